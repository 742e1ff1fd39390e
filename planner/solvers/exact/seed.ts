// Exact solver, step E0 (docs/planner.md): a first incumbent from a smaller space. Without an
// incumbent the label frontiers of step E2 are bounded only by memory, and with the 2026 space
// (dp x tp x sp layouts x four ZeRO stages x three recomputation granularities, 60+ strategies per
// layer) they grow with every layer. Restricting each layer to two strategies per layout — its
// fastest and its least memory — keeps every layout and every reshard of the full problem, so the
// restricted optimum is a feasible plan of the full one whenever memory allows, usually close to the
// optimum; the full pass then starts with its time as the cutoff (steps E4 and E6), and the proof is
// unchanged because the full pass still covers every placement that could beat it.
import type { CostTables, LayerCost } from '../../cost-model/tables.ts';
import { layoutKey } from '../../strategy.ts';

/** Strategies kept per layer by the seed: below this many allowed ones a seed pass does not pay. */
export const SEED_MIN_STRATEGIES = 24;

const memoryOf = (c: LayerCost) => c.stateBytes + c.activationBytes + c.workspaceBytes;

/** `t` with, per layer, only the fastest and the least-memory allowed strategy of each layout. */
export function seedTables(t: CostTables): CostTables | undefined {
  if (!t.allowed.some((row) => row.filter(Boolean).length >= SEED_MIN_STRATEGIES)) return undefined;
  const layout = t.strategies.map(layoutKey);
  const allowed = t.allowed.map((row, u) => {
    const fastest = new Map<string, number>();
    const smallest = new Map<string, number>();
    row.forEach((ok, k) => {
      if (!ok) return;
      const c = t.cost[u]![k]!;
      const f = fastest.get(layout[k]!);
      if (f === undefined || c.timeMs < t.cost[u]![f]!.timeMs) fastest.set(layout[k]!, k);
      const m = smallest.get(layout[k]!);
      if (m === undefined || memoryOf(c) < memoryOf(t.cost[u]![m]!)) smallest.set(layout[k]!, k);
    });
    const keep = new Set([...fastest.values(), ...smallest.values()]);
    return row.map((_, k) => keep.has(k));
  });
  return { ...t, allowed };
}
