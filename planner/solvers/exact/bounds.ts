// Exact solver, step E4 (docs/planner.md): lower bounds from the cost rows alone, used to prune
// configurations in the outer loop and labels inside the exact solver.
// - Plain: every layer costs at least its cheapest allowed strategy (resharding and P2P are >= 0).
// - Memory-aware (Lagrangian relaxation of a knapsack): the stages' memories sum to at most
//   d * budget, and stage i needs at least state + inFlight_min * act of its layers plus one
//   workspace, so with lin_uk = state + m_min * act,
//     sum_i p_i >= max_{lambda >= 0} sum_u min_k (A_uk + lambda * lin_uk) - lambda * d * (budget - ws_min).
//   Every lambda gives a valid bound; bisection on the subgradient finds a good one. If even the
//   least-memory choice exceeds the capacity, no placement fits (bound = Infinity).
// - Bottleneck: at least the sum over d stages and at least the slowest layer's cheapest time.
import type { CostTables } from '../../cost-model/tables.ts';

export interface CheapBounds {
  /** Sum over layers of the cheapest allowed time. */
  plainSumLbMs: number;
  /** max(plain, memory-aware) lower bound on sum_i p_i. */
  sumLbMs: number;
  bottleneckLbMs: number;
  /** sumLb + (c - 1) * bottleneckLb: a lower bound on the time per iteration. */
  tpiLbMs: number;
}

function memoryAwareSum(t: CostTables, plain: number): number {
  const m = Math.min(...t.inFlight);
  let wsMin = Number.POSITIVE_INFINITY;
  for (let u = 0; u < t.layers; u++) for (let k = 0; k < t.strategies.length; k++) if (t.allowed[u]![k]) wsMin = Math.min(wsMin, t.cost[u]![k]!.workspaceBytes);
  const cap = t.stages * (t.memoryBudgetBytes - wsMin);
  const at = (lambda: number) => {
    let value = 0;
    let used = 0;
    let least = 0;
    for (let u = 0; u < t.layers; u++) {
      let best = Number.POSITIVE_INFINITY;
      let bestLin = 0;
      let minLin = Number.POSITIVE_INFINITY;
      for (let k = 0; k < t.strategies.length; k++) {
        if (!t.allowed[u]![k]) continue;
        const c = t.cost[u]![k]!;
        const lin = c.stateBytes + m * c.activationBytes;
        const v = c.timeMs + lambda * lin;
        if (v < best || (v === best && lin < bestLin)) {
          best = v;
          bestLin = lin;
        }
        minLin = Math.min(minLin, lin);
      }
      value += best;
      used += bestLin;
      least += minLin;
    }
    return { bound: value - lambda * cap, used, least };
  };
  const zero = at(0);
  if (zero.least > cap) return Number.POSITIVE_INFINITY; // nothing fits in d stages
  if (zero.used <= cap) return plain;
  let lo = 0;
  let hi = 1e-12;
  let best = plain;
  for (let i = 0; i < 200; i++) {
    const r = at(hi);
    best = Math.max(best, r.bound);
    if (r.used <= cap) break;
    lo = hi;
    hi *= 4;
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    const r = at(mid);
    best = Math.max(best, r.bound);
    if (r.used > cap) lo = mid;
    else hi = mid;
  }
  return best;
}

export function cheapBounds(t: CostTables): CheapBounds {
  let plain = 0;
  let worst = 0;
  for (let u = 0; u < t.layers; u++) {
    let m = Number.POSITIVE_INFINITY;
    for (let k = 0; k < t.strategies.length; k++) if (t.allowed[u]![k]) m = Math.min(m, t.cost[u]![k]!.timeMs);
    plain += m;
    worst = Math.max(worst, m);
  }
  const sum = Number.isFinite(plain) ? memoryAwareSum(t, plain) : plain;
  // Float safety: bounds are shaved by a relative 1e-12 so that rounding never prunes the optimum.
  const sumLbMs = sum * (1 - 1e-12);
  const bottleneckLbMs = Math.max(worst, sum / t.stages) * (1 - 1e-12);
    // (c - 1) * Infinity would be NaN for c = 1
  const tpiLbMs = t.microBatches > 1 ? sumLbMs + (t.microBatches - 1) * bottleneckLbMs : sumLbMs;
  return { plainSumLbMs: plain * (1 - 1e-12), sumLbMs, bottleneckLbMs, tpiLbMs };
}
