// Never trust a solver: re-evaluate every backend's placement with evaluatePlacement
// (the single definition of time and memory) and check the structure, every constraint, the claimed
// objective and the claimed bound. A wrong answer is a SOLVER_FAILED error; it is never exported.
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { UniapError } from '../../common/errors.ts';
import { relativeGap, type SolveResult } from './types.ts';

/** Relative tolerance for comparing a backend's claimed objective with the re-evaluated one (MILP feasibility tolerances). */
export const OBJECTIVE_RTOL = 1e-6;

function fail(method: string, problem: string, detail: Record<string, unknown> = {}): never {
  throw new UniapError(
    'SOLVER_FAILED',
    `${method} returned a wrong answer (${problem}); the plan was discarded — use --solver exact, or report the instance`,
    { method, problem, ...detail },
  );
}

/** Structural validity: d stage starts, 0 first, strictly increasing, inside the layers; one allowed strategy per layer. */
export function placementProblem(t: CostTables, p: Placement): string | null {
  if (!Array.isArray(p.stageStart) || p.stageStart.length !== t.stages) return `${p.stageStart?.length} stage starts for ${t.stages} stages`;
  if (!Array.isArray(p.strategy) || p.strategy.length !== t.layers) return `${p.strategy?.length} strategies for ${t.layers} layers`;
  if (p.stageStart[0] !== 0) return 'stage 0 does not start at layer 0';
  for (let i = 0; i < t.stages; i++) {
    const s = p.stageStart[i]!;
    if (!Number.isInteger(s) || s < 0 || s >= t.layers) return `stage ${i} starts at ${s}`;
    if (i > 0 && s <= p.stageStart[i - 1]!) return `stage ${i} is empty or out of order`;
  }
  for (let u = 0; u < t.layers; u++) {
    const k = p.strategy[u]!;
    if (!Number.isInteger(k) || k < 0 || k >= t.strategies.length) return `layer ${u} has strategy index ${k}`;
    if (!t.allowed[u]![k]) return `layer ${u} uses strategy ${k}, which is not allowed for it`;
  }
  return null;
}

/**
 * Check a backend's result and return it with objectiveMs replaced by the re-evaluated time and the gap
 * recomputed. `claimedObjectiveMs` is what the backend said its placement costs (its own arithmetic).
 */
export function verifySolveResult(t: CostTables, r: SolveResult, claimedObjectiveMs?: number): SolveResult {
  const method = r.method;
  if (r.status === 'infeasible' || r.status === 'cutoff') {
    if (r.placement) fail(method, `status ${r.status} with a placement`);
    return { ...r, gap: r.status === 'infeasible' ? 0 : r.gap };
  }
  if (!r.placement) {
    if (r.status === 'time-limit') return { ...r, objectiveMs: undefined, gap: Number.POSITIVE_INFINITY };
    fail(method, `status ${r.status} without a placement`);
  }
  const problem = placementProblem(t, r.placement);
  if (problem) fail(method, problem);
  const ev = evaluatePlacement(t, r.placement);
  if (!ev.feasible) fail(method, `its plan violates ${ev.violations.join('; ')}`);
  const obj = ev.timePerIterationMs;
  const tol = OBJECTIVE_RTOL * Math.max(1, Math.abs(obj));
  if (claimedObjectiveMs !== undefined) {
    if (!Number.isFinite(claimedObjectiveMs)) fail(method, `claimed objective ${claimedObjectiveMs}`);
    if (claimedObjectiveMs < obj - tol) {
      fail(method, `claimed ${claimedObjectiveMs} ms per iteration, but its plan takes ${obj} ms`, { claimedObjectiveMs, objectiveMs: obj });
    }
  }
  if (r.boundMs > obj + tol) fail(method, `claimed a lower bound of ${r.boundMs} ms above its own plan's ${obj} ms`);
  const boundMs = Math.min(r.boundMs, obj);
  return { ...r, objectiveMs: obj, boundMs, gap: relativeGap(obj, boundMs) };
}
