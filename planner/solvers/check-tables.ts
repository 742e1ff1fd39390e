// Sanity checks every backend runs on its CostTables before solving: shapes match, and allowed
// entries are finite and non-negative (the exact solver's bounds and the MILP's big-M values rely on
// non-negative times). A layer without any allowed strategy is not an error but an infeasible
// configuration (e.g. a micro-batch too small for every data-parallel degree).
import type { CostTables } from '../cost-model/tables.ts';
import { UniapError } from '../../common/errors.ts';

function bad(what: string): never {
  throw new UniapError('CONFIG_INVALID', `cost tables: ${what}; this is a cost-model bug — report it with the model and cluster`);
}

export function checkTables(t: CostTables): void {
  const L = t.layers;
  const K = t.strategies.length;
  const d = t.stages;
  if (!(L >= 1) || !(d >= 1) || d > L) bad(`${d} stages for ${L} layers`);
  if (t.allowed.length !== L || t.cost.length !== L || t.reshardMs.length !== L) bad('per-layer arrays do not have one row per layer');
  if (t.inFlight.length !== d || t.boundaryClass.length !== d - 1) bad('inFlight/boundaryClass lengths do not match the stage count');
  if (!(t.microBatches >= 1)) bad(`micro-batch count ${t.microBatches}`);
  if (!(t.memoryBudgetBytes >= 0)) bad(`memory budget ${t.memoryBudgetBytes}`);
  const finite = (x: number | undefined) => x !== undefined && Number.isFinite(x) && x >= 0;
  for (let u = 0; u < L; u++) {
    for (let k = 0; k < K; k++) {
      if (!t.allowed[u]![k]) continue;
      const c = t.cost[u]![k]!;
      if (!finite(c.timeMs) || !finite(c.stateBytes) || !finite(c.activationBytes) || !finite(c.workspaceBytes)) {
        bad(`layer ${u} strategy ${k} has a negative or non-finite cost`);
      }
      if (u === L - 1) continue;
      for (let l = 0; l < K; l++) {
        if (!t.allowed[u + 1]![l]) continue;
        if (!finite(t.reshardMs[u]![k]![l]) || !finite(t.p2pMs[0][u]![k]![l]) || !finite(t.p2pMs[1][u]![k]![l])) {
          bad(`layer ${u} -> ${u + 1} (${k} -> ${l}) has a negative or non-finite resharding/P2P time`);
        }
      }
    }
  }
  for (const m of t.inFlight) if (!(m >= 0)) bad(`in-flight micro-batch count ${m}`);
}

/** The first layer with no allowed strategy, or -1: such tables have no placement at all. */
export function layerWithoutStrategy(t: CostTables): number {
  return t.allowed.findIndex((row) => !row.some(Boolean));
}
