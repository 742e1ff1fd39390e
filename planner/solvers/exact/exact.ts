// The exact structure-exploiting solver (docs/planner.md, steps E1-E6). Once stage boundaries are
// fixed the stages decouple (each stage's time and memory depend only on its own layers, and the P2P
// between stages only on the strategies at the boundary), so
//   TPI* = min over bottleneck caps C of [ S(C) + (c-1) * C' ],
// where S(C) is the least sum_i p_i + sum_i o_i with every p_i, o_i <= C and C' the bottleneck of that
// partition (UniAP objective, planner/cost-model/evaluate.ts). Step E6 walks caps downward: each
// min-sum pass under cap C returns a partition with sum S and bottleneck B; every plan with bottleneck
// in [B, C] costs at least S + (c-1) B, so the next cap is just below B. It stops once
// S + (c-1) * Bmin >= incumbent, where Bmin is the least achievable bottleneck (max-mode pass).
import type { CostTables, Placement } from '../../cost-model/tables.ts';
import { evaluatePlacement } from '../../cost-model/evaluate.ts';
import { checkTables, layerWithoutStrategy } from '../check-tables.ts';
import { verifySolveResult } from '../verify.ts';
import { relativeGap, type SolveOptions, type SolveResult, type Solver } from '../types.ts';
import { layerClasses } from './classes.ts';
import { labelContext, strategiesOf } from './labels.ts';
import { SegmentOracle } from './segments.ts';
import { partitionDp, type PartitionContext, type PartitionPath } from './partition.ts';
import { cheapBounds } from './bounds.ts';
import { seedTables } from './seed.ts';

export { cheapBounds } from './bounds.ts';

/** The largest double below x (x > 0): caps are "strictly below the last bottleneck". */
export function nextDown(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return x;
  const buf = new Float64Array([x]);
  const bits = new BigInt64Array(buf.buffer);
  bits[0] = bits[0]! - 1n;
  return buf[0]!;
}

function placementOf(pc: PartitionContext, path: PartitionPath): Placement {
  const { t } = pc;
  const strategy = new Array<number>(t.layers);
  for (let i = 0; i < t.stages; i++) {
    const a = path.starts[i]!;
    const b = i + 1 < t.stages ? path.starts[i + 1]! - 1 : t.layers - 1;
    const row = pc.oracleOf[i]!.row(a);
    const n = row.nOut[b - a]!;
    const label = row.best[b - a]![path.gin[i]! * n + path.gout[i]!]!;
    strategiesOf(label, a, b).forEach((k, j) => (strategy[a + j] = k));
  }
  return { stageStart: [...path.starts], strategy };
}

export interface ExactOptions extends SolveOptions {
  /** Restrict to these stage boundaries (stageStart); strategies are still optimized exactly. */
  fixedStageStart?: number[];
  /** Step E0 (seed.ts): start from the optimum of a smaller space when no incumbent is given (default true). */
  seed?: boolean;
}

export async function solveExact(t: CostTables, opts: ExactOptions = {}): Promise<SolveResult> {
  checkTables(t);
  const c = t.microBatches;
  const relGap = opts.relGap ?? 0;
  const stats = { labels: 0, steps: 0, passes: 0, transitions: 0, caps: 0 };
  let best: Placement | undefined;
  let bestMs = Number.POSITIVE_INFINITY;
  const offer = (p: Placement) => {
    const ev = evaluatePlacement(t, p);
    if (ev.feasible && ev.timePerIterationMs < bestMs && ev.timePerIterationMs < (opts.upperBoundMs ?? Infinity)) {
      bestMs = ev.timePerIterationMs;
      best = p;
    }
  };
  if (opts.incumbent) offer(opts.incumbent);
  // Step E0: without an incumbent, solve the smaller space first and start from its plan (seed.ts).
  if (!best && opts.seed !== false) {
    const seed = seedTables(t);
    if (seed) {
      const r = await solveExact(seed, { upperBoundMs: opts.upperBoundMs, relGap: 0, seed: false, ...(opts.fixedStageStart ? { fixedStageStart: opts.fixedStageStart } : {}) });
      stats.passes++;
      if (r.placement) offer(r.placement);
    }
  }
  // Only plans better than the incumbent matter: the cutoff is the better of the two.
  const cutoff = () => Math.min(bestMs, opts.upperBoundMs ?? Number.POSITIVE_INFINITY);
  const done = (boundMs: number): SolveResult => {
    const pass = { ...stats };
    if (!best) {
      if (Number.isFinite(cutoff())) return { status: 'cutoff', boundMs: Math.max(boundMs, cutoff()), gap: 0, method: 'exact', stats: pass };
      return { status: 'infeasible', boundMs: Number.POSITIVE_INFINITY, gap: 0, method: 'exact', stats: pass };
    }
    const bound = Math.min(boundMs, bestMs);
    return verifySolveResult(
      t,
      { status: 'optimal', placement: best, objectiveMs: bestMs, boundMs: bound, gap: relativeGap(bestMs, bound), method: 'exact', stats: pass },
      bestMs,
    );
  };

  if (layerWithoutStrategy(t) >= 0) return { status: 'infeasible', boundMs: Number.POSITIVE_INFINITY, gap: 0, method: 'exact', stats };
  // Step E4: prune with the cheap bound; limit the horizon of useful stage times.
  const lb = cheapBounds(t);
  if (lb.tpiLbMs >= cutoff()) return done(lb.tpiLbMs);
  const horizon = () => {
    const inc = cutoff();
    if (!Number.isFinite(inc)) return Number.POSITIVE_INFINITY;
    const h = c > 1 ? (inc - lb.sumLbMs) / (c - 1) : inc;
    return Math.min(h, inc) * (1 + 1e-12);
  };
  const H0 = horizon();
  const slack0 = Number.isFinite(cutoff()) ? (cutoff() - lb.plainSumLbMs) * (1 + 1e-12) + 1e-12 : Number.POSITIVE_INFINITY;

  // Steps E1-E3: classes, one label context and segment oracle per memory class (in-flight count).
  const cl = layerClasses(t);
  const L = t.layers;
  const d = t.stages;
  const oracles = new Map<number, SegmentOracle>();
  const stagesOf = new Map<number, number[]>();
  t.inFlight.forEach((m, i) => stagesOf.set(m, [...(stagesOf.get(m) ?? []), i]));
  const oracleOf = t.inFlight.map((m) => {
    let o = oracles.get(m);
    if (!o) {
      const mine = stagesOf.get(m)!;
      const maxStage = Math.max(...mine);
      const ctx = labelContext(t, cl, m, { horizonMs: H0, slackMs: slack0 }, stats);
      // A stage i starting at a ends by L-d+i; the latest stage of this class that can start at a bounds it.
      o = new SegmentOracle(ctx, (a) => Math.min(L - 1, L - d + Math.min(maxStage, a)));
      oracles.set(m, o);
    }
    return o;
  });
  const pc: PartitionContext = { t, cl, oracleOf, stats, ...(opts.fixedStageStart ? { fixedStarts: opts.fixedStageStart } : {}) };

  // Step E6a: the least bottleneck (and a first plan).
  const mm = partitionDp(pc, 'max', H0);
  if (!mm) return done(cutoff()); // nothing with bottleneck <= H0: nothing beats the cutoff (or infeasible)
  offer(placementOf(pc, mm));
  const bMin = mm.bottleneckMs;

  // Step E6b: descending caps.
  let cap = Math.min(H0, horizon());
  let bound: number | undefined; // set when stopping early on the gap; otherwise every cap was covered
  for (;;) {
    if (cap < bMin) break;
    stats.caps++;
    const r = partitionDp(pc, 'sum', cap);
    if (!r) break;
    offer(placementOf(pc, r));
    const lower = r.sumMs + (c - 1) * bMin; // every plan with bottleneck < r.bottleneck costs at least this
    if (c === 1 || lower >= cutoff() * (1 - relGap)) {
      bound = Math.min(cutoff(), lower);
      break;
    }
    cap = Math.min(nextDown(r.bottleneckMs), ((cutoff() - r.sumMs) / (c - 1)) * (1 + 1e-12));
  }
  return done(bound ?? cutoff());
}

export const exactSolver: Solver = { name: 'exact', solve: solveExact };
