// Dominated strategies: on one layer, strategy k is dominated by k' when both lay the layer out the
// same way (same dp, tp and sequence parallelism, so every reshard and P2P entry to and from them is
// the same: build.ts prices those by dp, tp and sp only) and k' is no worse in time, model states, kept activations and
// workspace. Replacing k by k' in any placement then changes no term of the objective upward and no
// term of any stage's memory upward (evaluate.ts), so some optimum avoids k, and the solvers may skip
// it: the optimum and its proof are unchanged. Ties keep the first of equal strategies. The larger
// sharding space (ZeRO-0/1/2/3 x recomputation) is where this pays: a layer without parameters (or
// without data parallelism) has several identical sharding choices, and ZeRO-1 often beats
// replication outright.
import type { CostTables, LayerCost } from './tables.ts';
import { layoutKey } from '../strategy.ts';

function noWorse(a: LayerCost, b: LayerCost): boolean {
  return a.timeMs <= b.timeMs && a.stateBytes <= b.stateBytes && a.activationBytes <= b.activationBytes && a.workspaceBytes <= b.workspaceBytes;
}

function equal(a: LayerCost, b: LayerCost): boolean {
  return a.timeMs === b.timeMs && a.stateBytes === b.stateBytes && a.activationBytes === b.activationBytes && a.workspaceBytes === b.workspaceBytes;
}

/** `t` with dominated strategies marked not allowed, layer by layer; `pruned` counts them. */
export function pruneDominated(t: CostTables): { tables: CostTables; pruned: number } {
  const groups = new Map<string, number[]>();
  t.strategies.forEach((s, k) => {
    const key = layoutKey(s);
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(k);
  });
  let pruned = 0;
  const allowed = t.allowed.map((row, u) => {
    const out = [...row];
    for (const members of groups.values()) {
      for (const k of members) {
        if (!out[k]) continue;
        const c = t.cost[u]![k]!;
        const beaten = members.some((j) => j !== k && out[j] && noWorse(t.cost[u]![j]!, c) && (!equal(t.cost[u]![j]!, c) || j < k));
        if (beaten) {
          out[k] = false;
          pruned++;
        }
      }
    }
    return out;
  });
  return { tables: { ...t, allowed }, pruned };
}
