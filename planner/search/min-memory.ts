// The least peak memory per device any placement of one configuration needs, ignoring time
// (docs/planner.md step S4): the number an infeasibility message reports ("needs 94 GiB per device").
// A stage's least memory is min over a workspace cap W of (sum over its layers of the least
// state + inFlight * activation among strategies with workspace <= W) + W; it only grows as a stage
// takes more layers, and later stages never hold more micro-batches (GPipe: equal; 1F1B: min(d-i, c)),
// so filling stages greedily from the first decides whether a memory level M fits (a split stage
// never needs more), and a bisection over M finds the least level to 1e-6.
import type { CostTables } from '../cost-model/tables.ts';

export interface MinMemory {
  /** Least achievable max over stages of stage memory (bytes); Infinity if some layer has no strategy. */
  bytes: number;
  /** Of it, model states (parameters, gradients, optimizer) on the fullest stage at that level. */
  stateBytes: number;
  /** Of it, activations and workspace. */
  activationBytes: number;
}

export function minPeakMemory(t: CostTables): MinMemory {
  const L = t.layers;
  const d = t.stages;
  const K = t.strategies.length;
  if (t.allowed.some((row) => !row.some(Boolean))) return { bytes: Number.POSITIVE_INFINITY, stateBytes: 0, activationBytes: 0 };
  const levels = [...new Set(t.cost.flatMap((row, u) => row.filter((_, k) => t.allowed[u]![k]).map((c) => c.workspaceBytes)))].sort((x, y) => x - y);
  // least[m][u][w] = least state + m * act at layer u among strategies with workspace <= levels[w] (and its state part)
  const tables = new Map<number, { lin: Float64Array; state: Float64Array }>();
  const leastFor = (m: number) => {
    let v = tables.get(m);
    if (!v) {
      const lin = new Float64Array(L * levels.length).fill(Number.POSITIVE_INFINITY);
      const state = new Float64Array(L * levels.length);
      for (let u = 0; u < L; u++) {
        for (let w = 0; w < levels.length; w++) {
          for (let k = 0; k < K; k++) {
            if (!t.allowed[u]![k]) continue;
            const c = t.cost[u]![k]!;
            if (c.workspaceBytes > levels[w]!) continue;
            const x = c.stateBytes + m * c.activationBytes;
            if (x < lin[u * levels.length + w]!) {
              lin[u * levels.length + w] = x;
              state[u * levels.length + w] = c.stateBytes;
            }
          }
        }
      }
      v = { lin, state };
      tables.set(m, v);
    }
    return v;
  };
  const W = levels.length;
  /** Greedy fill: does every layer fit on d stages within M bytes per device? */
  const fits = (M: number): { ok: boolean; worstBytes: number; worstState: number } => {
    let a = 0;
    let worstBytes = 0;
    let worstState = 0;
    for (let i = 0; i < d && a < L; i++) {
      const { lin, state } = leastFor(t.inFlight[i]!);
      const sum = new Float64Array(W);
      const st = new Float64Array(W);
      let best = Number.POSITIVE_INFINITY;
      let bestState = 0;
      let u = a;
      for (; u < L; u++) {
        let nb = Number.POSITIVE_INFINITY;
        let ns = 0;
        for (let w = 0; w < W; w++) {
          sum[w] = sum[w]! + lin[u * W + w]!;
          st[w] = st[w]! + state[u * W + w]!;
          if (sum[w]! + levels[w]! < nb) {
            nb = sum[w]! + levels[w]!;
            ns = st[w]!;
          }
        }
        if (nb > M) break;
        best = nb;
        bestState = ns;
      }
      if (u === a) return { ok: false, worstBytes, worstState };
      if (best > worstBytes) {
        worstBytes = best;
        worstState = bestState;
      }
      a = u;
    }
    return { ok: a >= L, worstBytes, worstState };
  };
  let lo = 0;
  let hi = 1;
  while (!fits(hi).ok) hi *= 2;
  let at = fits(hi);
  for (let it = 0; it < 80 && hi - lo > hi * 1e-6; it++) {
    const mid = (lo + hi) / 2;
    const r = fits(mid);
    if (r.ok) {
      hi = mid;
      at = r;
    } else lo = mid;
  }
  return { bytes: at.worstBytes, stateBytes: at.worstState, activationBytes: at.worstBytes - at.worstState };
}
