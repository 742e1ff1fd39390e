// The one Solver interface every backend implements (exact, highs, glpk, lp-solver, brute-force):
// CostTables of one outer-loop configuration (d, c, schedule) in, the best Placement out, with the
// proof status, lower bound and gap. Answers are always re-checked by verifySolveResult
// (planner/solvers/verify.ts) before anyone sees them.
import type { CostTables, Placement } from '../cost-model/tables.ts';

export interface SolveOptions {
  /** Wall-clock limit for the backend, ms (MILP backends; exact and brute force always finish). */
  timeLimitMs?: number;
  /** Stop once (objective - bound) / objective <= relGap. Default 0 for exact; MILP backends 1e-6. */
  relGap?: number;
  /** A known feasible placement (warm start / MIP start). */
  incumbent?: Placement;
  /**
   * Only placements strictly better than this matter (the outer loop's incumbent, ms). A backend may
   * stop with status 'cutoff' once it proves that none exists.
   */
  upperBoundMs?: number;
}

export type SolveStatus =
  | 'optimal' // placement is optimal within relGap (gap reported)
  | 'feasible' // a placement without a proof (e.g. an unverifiable backend)
  | 'time-limit' // stopped by the time limit; placement (if any) and bound reported
  | 'infeasible' // proven: no placement satisfies the memory constraints
  | 'cutoff'; // proven: no placement is better than opts.upperBoundMs

export interface SolveResult {
  status: SolveStatus;
  placement?: Placement;
  /** evaluatePlacement(t, placement).timePerIterationMs (after verification). */
  objectiveMs?: number;
  /** Proven lower bound on the optimum of these tables (ms); -Infinity when none is known. */
  boundMs: number;
  /** (objective - bound) / objective; Infinity without a placement. */
  gap: number;
  /** Which method produced the answer: "exact", "highs-miqp", "glpk-miqp", "lp-solver-miqp", "brute-force". */
  method: string;
  /** Backend statistics for reports (label counts, nodes, DP passes, ...). */
  stats?: Record<string, number>;
}

export interface Solver {
  name: string;
  solve(t: CostTables, opts?: SolveOptions): Promise<SolveResult>;
}

export function relativeGap(objectiveMs: number | undefined, boundMs: number): number {
  if (objectiveMs === undefined) return Number.POSITIVE_INFINITY;
  if (objectiveMs <= 0) return 0;
  return Math.max(0, (objectiveMs - boundMs) / objectiveMs);
}
