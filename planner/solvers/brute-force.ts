// The brute-force backend: enumerates every contiguous partition into d non-empty stages and every
// allowed strategy per layer, and evaluates each with evaluatePlacement (the definition itself).
// Obviously correct and exponential: the test oracle for small instances only; refuses big ones.
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { UniapError } from '../../common/errors.ts';
import { checkTables, layerWithoutStrategy } from './check-tables.ts';
import { verifySolveResult } from './verify.ts';
import type { SolveOptions, SolveResult, Solver } from './types.ts';

export const BRUTE_FORCE_LIMIT = 5_000_000;

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Number of placements brute force would evaluate. */
export function bruteForceCount(t: CostTables): number {
  let n = binomial(t.layers - 1, t.stages - 1);
  for (const row of t.allowed) n *= row.filter(Boolean).length;
  return n;
}

function* compositions(L: number, d: number): Generator<number[]> {
  // stageStart[0] = 0 < s1 < ... < s_{d-1} <= L - 1
  const starts = [0];
  function* rec(i: number, from: number): Generator<number[]> {
    if (i === d) {
      yield [...starts];
      return;
    }
    for (let s = from; s <= L - (d - i); s++) {
      starts.push(s);
      yield* rec(i + 1, s + 1);
      starts.pop();
    }
  }
  yield* rec(1, 1);
}

export const bruteForceSolver: Solver = {
  name: 'brute-force',
  async solve(t: CostTables, _opts: SolveOptions = {}): Promise<SolveResult> {
    checkTables(t);
    if (layerWithoutStrategy(t) >= 0) return { status: 'infeasible', boundMs: Number.POSITIVE_INFINITY, gap: 0, method: 'brute-force' };
    const count = bruteForceCount(t);
    if (count > BRUTE_FORCE_LIMIT) {
      throw new UniapError(
        'UNSUPPORTED',
        `brute force would evaluate ${count.toExponential(2)} placements (limit ${BRUTE_FORCE_LIMIT.toExponential(0)}); use --solver exact for instances of ${t.layers} layers`,
        { count },
      );
    }
    const options = t.allowed.map((row) => row.flatMap((ok, k) => (ok ? [k] : [])));
    let best: Placement | undefined;
    let bestMs = Number.POSITIVE_INFINITY;
    const strategy = new Array<number>(t.layers).fill(0);
    for (const stageStart of compositions(t.layers, t.stages)) {
      const idx = new Array<number>(t.layers).fill(0);
      for (;;) {
        for (let u = 0; u < t.layers; u++) strategy[u] = options[u]![idx[u]!]!;
        const p = { stageStart, strategy };
        const ev = evaluatePlacement(t, p);
        if (ev.feasible && ev.timePerIterationMs < bestMs) {
          bestMs = ev.timePerIterationMs;
          best = { stageStart: [...stageStart], strategy: [...strategy] };
        }
        let u = t.layers - 1;
        while (u >= 0 && idx[u] === options[u]!.length - 1) idx[u--] = 0;
        if (u < 0) break;
        idx[u]!++;
      }
    }
    if (!best) return { status: 'infeasible', boundMs: Number.POSITIVE_INFINITY, gap: 0, method: 'brute-force', stats: { placements: count } };
    return verifySolveResult(
      t,
      { status: 'optimal', placement: best, objectiveMs: bestMs, boundMs: bestMs, gap: 0, method: 'brute-force', stats: { placements: count } },
      bestMs,
    );
  },
};
