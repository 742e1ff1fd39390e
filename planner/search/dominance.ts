// Schedule dominance (docs/planner.md step S2): GPipe and synchronous 1F1B have the same time per
// iteration for the same placement (planner/cost-model/evaluate.ts) and 1F1B never keeps more
// micro-batches in flight, so when two tables of one (d, c) differ only in inFlight, with
// inFlight(a) <= inFlight(b) on every stage, every placement feasible for b is feasible for a with the
// same time: b cannot beat a and need not be solved. Checked on the tables, not assumed.
import type { CostTables } from '../cost-model/tables.ts';

function sameMatrix3(x: number[][][], y: number[][][]): boolean {
  if (x.length !== y.length) return false;
  for (let u = 0; u < x.length; u++) {
    const a = x[u]!;
    const b = y[u]!;
    if (a === b) continue;
    for (let k = 0; k < a.length; k++) {
      const r = a[k]!;
      const s = b[k]!;
      if (r === s) continue;
      for (let l = 0; l < r.length; l++) if (r[l] !== s[l]) return false;
    }
  }
  return true;
}

/** Does `a` dominate `b` (same everything but fewer or equal micro-batches in flight on every stage)? */
export function scheduleDominates(a: CostTables, b: CostTables): boolean {
  if (a.stages !== b.stages || a.microBatches !== b.microBatches || a.layers !== b.layers) return false;
  if (a.memoryBudgetBytes !== b.memoryBudgetBytes || a.strategies.length !== b.strategies.length) return false;
  if (a.boundaryClass.some((x, i) => x !== b.boundaryClass[i])) return false;
  if (a.inFlight.some((x, i) => x > b.inFlight[i]!)) return false;
  for (let u = 0; u < a.layers; u++) {
    for (let k = 0; k < a.strategies.length; k++) {
      if (a.allowed[u]![k] !== b.allowed[u]![k]) return false;
      if (!a.allowed[u]![k]) continue;
      const x = a.cost[u]![k]!;
      const y = b.cost[u]![k]!;
      if (x.timeMs !== y.timeMs || x.stateBytes !== y.stateBytes || x.activationBytes !== y.activationBytes || x.workspaceBytes !== y.workspaceBytes) return false;
    }
  }
  return sameMatrix3(a.reshardMs, b.reshardMs) && sameMatrix3(a.p2pMs[0], b.p2pMs[0]) && sameMatrix3(a.p2pMs[1], b.p2pMs[1]);
}
