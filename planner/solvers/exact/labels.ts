// Exact solver, step E2 (docs/planner.md): the resource-constrained shortest path inside one stage.
// A label is a partial segment a..u ending in some strategy: its time (sum of A plus in-stage
// resharding R, in evaluatePlacement's order of additions), its state and activation sums, and its
// largest workspace. Memory of the finished stage is state + inFlight * act + max workspace
// (planner/cost-model/evaluate.ts), so with lin = state + inFlight * act and mem = lin + ws a label x
// dominates y iff x.time <= y.time, x.lin <= y.lin and x.mem <= y.mem (any continuation adds the same
// time and linear memory to both, and max(ws, w') - max(ws', w') <= ws - ws'). Labels of strategies
// in the same out-class (classes.ts) share every continuation and are merged.
import type { CostTables } from '../../cost-model/tables.ts';
import type { LayerClasses } from './classes.ts';

export interface Label {
  time: number;
  state: number;
  act: number;
  ws: number;
  lin: number;
  mem: number;
  /** Sum over the label's layers of their cheapest allowed time (for the bound of step E4). */
  minSum: number;
  /** Strategy of the label's last layer, and the label it extends (null at the segment start). */
  k: number;
  parent: Label | null;
}

/** Labels at one layer, one Pareto frontier per out-class, each sorted by time. */
export type Frontiers = Label[][];

export interface LabelContext {
  t: CostTables;
  cl: LayerClasses;
  /** In-flight micro-batches of the stages this context serves (the memory class). */
  inFlight: number;
  budget: number;
  /** Labels slower than this cannot be part of an improving plan (see exact.ts, step E4). */
  horizonMs: number;
  /**
   * Step E4 per label: a plan containing a stage whose first layers form the label costs at least
   * c * time - minSum + S_lb (the stage runs c times at least this long, every other layer at least
   * its cheapest time), so labels with c * time - minSum > slackMs = incumbent - S_lb are useless.
   */
  slackMs: number;
  microBatches: number;
  minTime: Float64Array;
  /**
   * futureMem[u]: an upper bound on what layers u+1..L-1 can add to a stage's memory. A label at u
   * with mem + futureMem[u] <= budget never runs out of memory, so slower labels are useless.
   */
  futureMem: Float64Array;
  /** budget less a relative 1e-12 for rounding, used only for the never-runs-out test. */
  safeBudget: number;
  stats: { labels: number; steps: number };
}

export function labelContext(
  t: CostTables,
  cl: LayerClasses,
  inFlight: number,
  bound: { horizonMs: number; slackMs: number },
  stats: LabelContext['stats'],
): LabelContext {
  const L = t.layers;
  const minTime = new Float64Array(L);
  for (let u = 0; u < L; u++) minTime[u] = Math.min(...cl.allowedList[u]!.map((k) => t.cost[u]![k]!.timeMs));
  const futureMem = new Float64Array(L);
  let lin = 0;
  let ws = 0;
  for (let u = L - 1; u >= 0; u--) {
    futureMem[u] = (lin + ws) * (1 + 1e-9);
    for (const k of cl.allowedList[u]!) {
      const c = t.cost[u]![k]!;
      ws = Math.max(ws, c.workspaceBytes);
    }
    lin += Math.max(...cl.allowedList[u]!.map((k) => t.cost[u]![k]!.stateBytes + inFlight * t.cost[u]![k]!.activationBytes));
  }
  return {
    t,
    cl,
    inFlight,
    budget: t.memoryBudgetBytes,
    horizonMs: bound.horizonMs,
    slackMs: bound.slackMs,
    microBatches: t.microBatches,
    minTime,
    futureMem,
    safeBudget: t.memoryBudgetBytes * (1 - 1e-12),
    stats,
  };
}

const byTime = (x: Point, y: Point) => x.time - y.time || x.lin - y.lin || x.mem - y.mem;

interface Point {
  time: number;
  lin: number;
  mem: number;
}

/** 3-D Pareto filter (time, lin, mem) by a sweep in time order with a 2-D staircase over (lin, mem). */
export function paretoFilter<T extends Point>(cands: T[], futureMem: number, safeBudget: number): T[] {
  if (cands.length <= 1) return cands;
  cands.sort(byTime);
  const kept: T[] = [];
  const sLin: number[] = [];
  const sMem: number[] = [];
  for (const x of cands) {
    // last staircase entry with lin <= x.lin has the least mem among those
    let lo = 0;
    let hi = sLin.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sLin[mid]! <= x.lin) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (idx >= 0 && sMem[idx]! <= x.mem) continue; // dominated
    kept.push(x);
    if (x.mem + futureMem <= safeBudget) break; // x never runs out of memory: everything slower is useless
    // insert into the staircase, removing entries x dominates in (lin, mem)
    let from = idx + 1;
    if (idx >= 0 && sLin[idx] === x.lin) from = idx;
    let to = idx + 1;
    while (to < sLin.length && sMem[to]! >= x.mem) to++;
    sLin.splice(from, to - from, x.lin);
    sMem.splice(from, to - from, x.mem);
  }
  return kept;
}

function push(ctx: LabelContext, out: Label[], parent: Label | null, u: number, k: number, time: number): void {
  const c = ctx.t.cost[u]![k]!;
  const state = (parent ? parent.state : 0) + c.stateBytes;
  const act = (parent ? parent.act : 0) + c.activationBytes;
  const ws = parent ? Math.max(parent.ws, c.workspaceBytes) : c.workspaceBytes;
  const lin = state + ctx.inFlight * act;
  const mem = lin + ws;
  if (mem > ctx.budget || time > ctx.horizonMs) return;
  const minSum = (parent ? parent.minSum : 0) + ctx.minTime[u]!;
  if (ctx.microBatches * time - minSum > ctx.slackMs) return;
  out.push({ time, state, act, ws, lin, mem, minSum, k, parent });
}

/** Labels of a stage that starts at layer a with a first strategy in in-group gin. */
export function startLabels(ctx: LabelContext, a: number, gin: number): Frontiers {
  const cl = ctx.cl;
  const cands: Label[][] = cl.outReps[a]!.map(() => []);
  for (const k of cl.inMembers[a]![gin]!) push(ctx, cands[cl.outClassOf[a]![k]!]!, null, a, k, 0 + ctx.t.cost[a]![k]!.timeMs);
  ctx.stats.labels += cands.reduce((s, c) => s + c.length, 0);
  return cands.map((c) => paretoFilter(c, ctx.futureMem[a]!, ctx.safeBudget));
}

/** A label at u moved across the resharding into u+1: its time includes R, its memory is unchanged. */
interface Crossed extends Point {
  x: Label;
}

/**
 * Extend every label at layer u by layer u+1 (all allowed strategies), grouped by out-class at u+1.
 * Per column group of u+1 (classes.ts) the labels of every out-class at u cross the resharding once
 * and are Pareto-filtered together (they now share every continuation), then each member's cost is
 * added: with many strategies per layout (ZeRO stages x recomputation) this is what keeps a step
 * linear in the frontier rather than in frontier x strategies.
 */
export function stepLabels(ctx: LabelContext, u: number, from: Frontiers): Frontiers {
  const { t, cl } = ctx;
  const v = u + 1;
  const cands: Label[][] = cl.outReps[v]!.map(() => []);
  const R = t.reshardMs[u]!;
  const live = from.reduce((n, labels) => n + (labels.length > 0 ? 1 : 0), 0);
  const only = from.findIndex((labels) => labels.length > 0); // the one frontier when live === 1
  for (const group of cl.columnGroups[v]!) {
    const rep = group[0]!;
    if (live <= 1) {
      // one frontier: it is Pareto already; cross it as it is (no copies)
      if (only < 0) continue;
      const q = only;
      const r = R[cl.outReps[u]![q]!]![rep]!;
      for (const l of group) {
        const out = cands[cl.outClassOf[v]![l]!]!;
        const cost = t.cost[v]![l]!.timeMs;
        for (const x of from[q]!) push(ctx, out, x, v, l, x.time + r + cost);
      }
      continue;
    }
    const crossed: Crossed[] = [];
    for (let q = 0; q < from.length; q++) {
      const labels = from[q]!;
      if (labels.length === 0) continue;
      const r = R[cl.outReps[u]![q]!]![rep]!;
      for (const x of labels) crossed.push({ time: x.time + r, lin: x.lin, mem: x.mem, x });
    }
    const merged = paretoFilter(crossed, ctx.futureMem[u]!, ctx.safeBudget);
    for (const l of group) {
      const out = cands[cl.outClassOf[v]![l]!]!;
      const cost = t.cost[v]![l]!.timeMs;
      for (const c of merged) push(ctx, out, c.x, v, l, c.time + cost);
    }
  }
  ctx.stats.steps++;
  ctx.stats.labels += cands.reduce((s, c) => s + c.length, 0);
  return cands.map((c) => paretoFilter(c, ctx.futureMem[v]!, ctx.safeBudget));
}

/** Strategies of layers a..b from a label at b (its parent chain). */
export function strategiesOf(label: Label, a: number, b: number): number[] {
  const ks = new Array<number>(b - a + 1);
  let x: Label | null = label;
  for (let u = b; u >= a; u--) {
    ks[u - a] = x!.k;
    x = x!.parent;
  }
  return ks;
}
