// Seeded random CostTables for solver tests and benchmarks. Two families:
// - randomTables: small adversarial instances (arbitrary reshard/P2P matrices, disallowed strategies,
//   tight memory, optionally runs of identical layers and strategies with identical rows) for
//   exhaustive comparison with brute force;
// - transformerTables: transformer-shaped instances (embedding, N identical blocks, head; (dp, tp)
//   x FSDP x recomputation strategies whose reshard/P2P depend on dp only) for scale benchmarks.
// All numbers are synthetic; the real tables come from planner/cost-model/build.ts.
import type { Schedule } from '../plan.ts';
import type { Strategy } from '../strategy.ts';
import type { CostTables, LayerCost } from '../cost-model/tables.ts';

/** mulberry32: a small, fast, seeded PRNG (public domain, Tommy Ettinger). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export function inFlightFor(schedule: Schedule, d: number, c: number): number[] {
  // GPipe keeps all c micro-batches at the peak; 1F1B stage i keeps min(d - i, c) (Narayanan et al. 2021).
  return Array.from({ length: d }, (_, i) => (schedule === 'gpipe' ? c : Math.min(d - i, c)));
}

function breakdownOf(timeMs: number): LayerCost['breakdown'] {
  return { computeMs: timeMs, tpCommMs: 0, fsdpExposedMs: 0, gradSyncExposedMs: 0, overlappedCommMs: 0 };
}

export interface RandomTablesOptions {
  layers: number;
  stages: number;
  strategies: number;
  microBatches?: number;
  schedule?: Schedule;
  /** Budget between the least and the greatest plausible stage memory: 0 = tightest, 1 = loose. Default random. */
  tightness?: number;
  /** Make layers repeat (same rows), exercising the run aggregation of the exact solver. */
  repeatLayers?: boolean;
  /** Give several strategies identical reshard/P2P rows and columns (class merging). */
  sharedRows?: boolean;
}

const GiB = 1024 ** 3;

/** A small random instance: every number drawn independently unless repeatLayers/sharedRows say otherwise. */
export function randomTables(seed: number, o: RandomTablesOptions): CostTables {
  const rng = new Rng(seed);
  const L = o.layers;
  const d = o.stages;
  const K = o.strategies;
  const c = o.microBatches ?? rng.pick([1, 2, 3, 4, 8]);
  const schedule = o.schedule ?? rng.pick(['gpipe', '1f1b'] as const);
  const strategies: Strategy[] = Array.from({ length: K }, (_, k) => ({ dp: k + 1, tp: 1, fsdp: false, recompute: k % 2 === 1 }));
  // Layout class per strategy: reshard/P2P depend on the class only when sharedRows.
  const cls = Array.from({ length: K }, (_, k) => (o.sharedRows ? k % Math.max(1, Math.ceil(K / 2)) : k));

  const rowFor = (): { allowed: boolean[]; cost: LayerCost[] } => {
    const allowed = Array.from({ length: K }, () => !rng.chance(0.15));
    if (!allowed.some(Boolean)) allowed[rng.int(0, K - 1)] = true;
    const cost = Array.from({ length: K }, (): LayerCost => {
      const timeMs = rng.pick([0, 1, 2, 3, 5, 8]) + rng.next() * 4;
      return {
        timeMs,
        breakdown: breakdownOf(timeMs),
        stateBytes: Math.round(rng.next() * 4 * GiB),
        activationBytes: Math.round(rng.next() * 1 * GiB),
        workspaceBytes: Math.round(rng.pick([0, 0.5, 1, 2]) * GiB),
      };
    });
    return { allowed, cost };
  };
  const matrix = (scale: number, zeroDiagonal: boolean): number[][] => {
    const byClass = new Map<string, number>();
    return Array.from({ length: K }, (_, k) =>
      Array.from({ length: K }, (_, l) => {
        if (zeroDiagonal && cls[k] === cls[l]) return 0;
        const key = `${cls[k]}|${cls[l]}`;
        let v = byClass.get(key);
        if (v === undefined) {
          v = rng.chance(0.3) ? 0 : rng.next() * scale;
          byClass.set(key, v);
        }
        return v;
      }),
    );
  };

  const allowed: boolean[][] = [];
  const cost: LayerCost[][] = [];
  const reshardMs: number[][][] = [];
  const p2p0: number[][][] = [];
  const p2p1: number[][][] = [];
  let row = rowFor();
  let trans = { r: matrix(2, rng.chance(0.5)), p0: matrix(3, false), p1: matrix(6, false) };
  for (let u = 0; u < L; u++) {
    if (u > 0 && !(o.repeatLayers && rng.chance(0.7))) {
      row = rowFor();
      trans = { r: matrix(2, rng.chance(0.5)), p0: matrix(3, false), p1: matrix(6, false) };
    }
    allowed.push([...row.allowed]);
    cost.push(row.cost.map((x) => ({ ...x, breakdown: { ...x.breakdown } })));
    const zero = () => Array.from({ length: K }, () => new Array<number>(K).fill(0));
    reshardMs.push(u < L - 1 ? trans.r.map((r) => [...r]) : zero());
    p2p0.push(u < L - 1 ? trans.p0.map((r) => [...r]) : zero());
    p2p1.push(u < L - 1 ? trans.p1.map((r) => [...r]) : zero());
  }
  const boundaryClass = Array.from({ length: d - 1 }, () => (rng.chance(0.5) ? 1 : 0) as 0 | 1);
  const inFlight = inFlightFor(schedule, d, c);

  // Budget: between the memory of the lightest layer alone and an average stage at its heaviest.
  const tight = o.tightness ?? rng.next();
  const maxIn = Math.max(...inFlight);
  const minLayer = Math.min(
    ...cost.map((r, u) => Math.min(...r.map((x, k) => (allowed[u]![k] ? x.stateBytes + x.activationBytes + x.workspaceBytes : Infinity)))),
  );
  const heavyStage = (L / d) * 4 * GiB + (L / d) * maxIn * GiB + 2 * GiB;
  const memoryBudgetBytes = Math.round(minLayer + tight * (heavyStage - minLayer));

  return {
    schedule,
    stages: d,
    microBatches: c,
    microBatchSize: 1,
    devicesPerStage: K,
    layers: L,
    strategies,
    allowed,
    cost,
    reshardMs,
    p2pMs: [p2p0, p2p1],
    boundaryClass,
    inFlight,
    memoryBudgetBytes,
  };
}

export interface TransformerTablesOptions {
  /** Identical transformer blocks (the embedding and head are added). */
  blocks: number;
  stages: number;
  microBatches: number;
  /** Devices per stage g; strategies are (dp, tp) with tp <= 8, FSDP on/off (dp > 1), recomputation on/off. */
  devicesPerStage: number;
  schedule: Schedule;
  /** Parameters per block (e.g. 0.2e9 for Llama-2-7B, 0.86e9 for 70B). */
  blockParams: number;
  /** Activation bytes per block per sample (16-bit). */
  blockActivationBytesPerSample: number;
  microBatchSize: number;
  memoryBudgetBytes: number;
  /** Devices per node; boundaries between stages cross nodes when a stage is a whole node or more. */
  devicesPerNode?: number;
}

/**
 * Transformer-shaped tables: compute scales 1/(dp*tp) plus TP all-reduce cost; FSDP trades 3/4 of the
 * model states for exposed gathers; recomputation trades activations for one more forward. Reshard
 * and P2P depend on dp only (as in planner/cost-model/build.ts).
 */
export function transformerTables(seed: number, o: TransformerTablesOptions): CostTables {
  const rng = new Rng(seed);
  const g = o.devicesPerStage;
  const perNode = o.devicesPerNode ?? 8;
  const strategies: Strategy[] = [];
  for (let tp = 1; tp <= Math.min(g, 8); tp *= 2) {
    if (g % tp) continue;
    const dp = g / tp;
    for (const fsdp of dp > 1 ? [false, true] : [false]) for (const recompute of [false, true]) strategies.push({ dp, tp, fsdp, recompute });
  }
  const K = strategies.length;
  const b = o.microBatchSize;
  const blockFwdMs = (1 + rng.next() * 0.2) * (6 * o.blockParams * b * 2048) / 3 / 300e12 * 1000; // ~6N FLOPs/token, 2048 tokens
  const layerRow = (scale: number, params: number, actPerSample: number): { allowed: boolean[]; cost: LayerCost[] } => {
    const allowed = strategies.map((s) => b % s.dp === 0);
    const cost = strategies.map((s): LayerCost => {
      const m = b / s.dp;
      const fwd = (scale * blockFwdMs * m) / b / s.tp;
      const tpComm = s.tp > 1 ? scale * 0.15 * fwd * Math.log2(s.tp) : 0;
      const fsdpMs = s.fsdp ? scale * 0.1 * blockFwdMs * (1 - 1 / s.dp) : 0;
      const grad = !s.fsdp && s.dp > 1 ? (scale * 0.05 * blockFwdMs) / o.microBatches : 0;
      const timeMs = fwd * 3 + (s.recompute ? fwd : 0) + tpComm + fsdpMs + grad;
      const stateBytes = s.fsdp ? (16 * params) / s.tp / s.dp : (16 * params) / s.tp;
      const fullAct = (actPerSample * m) / (0.5 + 0.5 * s.tp);
      const activationBytes = s.recompute ? fullAct / 17 : fullAct;
      const workspaceBytes = fullAct / 4 + (s.recompute ? fullAct : 0) + (s.fsdp ? (4 * params) / s.tp : 0);
      return { timeMs, breakdown: breakdownOf(timeMs), stateBytes, activationBytes, workspaceBytes };
    });
    return { allowed, cost };
  };
  const block = layerRow(1, o.blockParams, o.blockActivationBytesPerSample);
  const emb = layerRow(0.3, o.blockParams * 0.6, o.blockActivationBytesPerSample * 0.05);
  const head = layerRow(0.8, o.blockParams * 0.6, o.blockActivationBytesPerSample * 0.3);
  const rows = [emb, ...Array.from({ length: o.blocks }, () => block), head];
  const L = rows.length;
  const boundaryMs = 0.02 * blockFwdMs;
  const mat = (scale: number) =>
    strategies.map((s) => strategies.map((t) => (s.dp === t.dp ? 0 : (scale * boundaryMs) / Math.min(s.dp, t.dp))));
  const p2pMat = (scale: number) => strategies.map((s) => strategies.map((t) => (scale * boundaryMs) / Math.min(s.dp, t.dp)));
  const zero = strategies.map(() => new Array<number>(K).fill(0));
  const d = o.stages;
  return {
    schedule: o.schedule,
    stages: d,
    microBatches: o.microBatches,
    microBatchSize: b,
    devicesPerStage: g,
    layers: L,
    strategies,
    allowed: rows.map((r) => [...r.allowed]),
    cost: rows.map((r) => r.cost),
    reshardMs: rows.map((_, u) => (u < L - 1 ? mat(1) : zero)),
    p2pMs: [rows.map((_, u) => (u < L - 1 ? p2pMat(1) : zero)), rows.map((_, u) => (u < L - 1 ? p2pMat(4) : zero))],
    boundaryClass: Array.from({ length: d - 1 }, (_, i) => (g >= perNode || ((i + 1) * g) % perNode === 0 ? 1 : 0) as 0 | 1),
    inFlight: inFlightFor(o.schedule, d, o.microBatches),
    memoryBudgetBytes: o.memoryBudgetBytes,
  };
}
