// The cost model against closed forms on synthetic profiles: uniform pipeline time
// (c + d - 1)(t_f + t_b) (GPipe, Huang et al. 2019, arXiv 1811.06965, sec. 2.3) plus communication, per-stage memory with GPipe/1F1B in-flight counts,
// exposed gradient synchronization, and estimate == planner prediction.
import { describe, it, expect } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { prepareCostModel } from './input.ts';
import { buildCostTables } from './build.ts';
import { evaluatePlacement } from './evaluate.ts';
import { syntheticProfile } from './synthetic-profile.ts';
import { planFromPlacement } from '../plan-build.ts';
import { estimatePlan } from '../estimate.ts';
import { layerParameters, layerStoredParameters, layerActivationBytes, boundaryActivationBytes } from '../../configs/model-derive.ts';
import type { Placement, CostTables } from './tables.ts';
import type { Strategy } from '../strategy.ts';
import { sameStrategy } from '../strategy.ts';

const model = loadModel('tiny-gpt'); // embedding, 4 decoder blocks, head: 6 layers
const L = model.layers.length;
const GiB = 1024 ** 3;

function input(devices: number, batch: number, link = { latencyMs: 0, busBandwidthGBps: 1e9 }) {
  const cluster = localCpuCluster(devices);
  const profile = syntheticProfile(model, {
    microBatches: [1, 2, 4, 8, 16],
    tpDegrees: [1, 2, 4],
    forwardMs: (_l, m, tp) => m / tp, // 1 ms per sample per layer at tp=1
    capacityBytes: 64 * GiB,
    link: { ...link, maxGroup: 8, maxNodes: 1 },
  });
  return prepareCostModel(model, cluster, { globalBatch: batch, profile });
}

function index(t: CostTables, s: Strategy): number {
  const k = t.strategies.findIndex((x) => sameStrategy(x, s));
  expect(k).toBeGreaterThanOrEqual(0);
  return k;
}

function uniform(t: CostTables, s: Strategy): Placement {
  const per = t.layers / t.stages;
  return { stageStart: Array.from({ length: t.stages }, (_, i) => i * per), strategy: new Array(t.layers).fill(index(t, s)) };
}

describe('time per iteration: closed forms', () => {
  for (const [d, c] of [[1, 1], [1, 4], [2, 4], [3, 8], [6, 2], [2, 16]] as const) {
    it(`uniform ${d} stages, ${c} micro-batches: (c + d - 1)(t_f + t_b)`, () => {
      const B = 16;
      const t = buildCostTables(input(d, B), { stages: d, microBatches: c, schedule: 'gpipe' });
      const ev = evaluatePlacement(t, uniform(t, { dp: 1, tp: 1, fsdp: false, recompute: false }));
      const b = B / c;
      const stageTime = (L / d) * (b + 2 * b); // layers per stage x (t_f + t_b)
      expect(ev.timePerIterationMs).toBeCloseTo((c + d - 1) * stageTime, 6);
    });
  }

  it('adds P2P: sum o_i + (c - 1) max(p, o) with o = 2 latencies per boundary', () => {
    const [d, c, B, lat] = [3, 4, 8, 0.25];
    const t = buildCostTables(input(d, B, { latencyMs: lat, busBandwidthGBps: 1e9 }), { stages: d, microBatches: c, schedule: '1f1b' });
    const ev = evaluatePlacement(t, uniform(t, { dp: 1, tp: 1, fsdp: false, recompute: false }));
    const p = (L / d) * 3 * (B / c);
    const o = 2 * lat; // forward activation + backward gradient, latency-bound
    expect(ev.p2pTimeMs.slice(0, d - 1)).toEqual(new Array(d - 1).fill(expect.closeTo(o, 9)));
    // tiny-gpt's head is tied: the last stage also pays the tied-table all-reduce, 1/c per micro-batch.
    const head = model.layers[L - 1]!;
    const tie = (lat + ((2 * (2 - 1)) / 2) * ((4 * head.vocabSize * head.hiddenSize) / (1e9 * 1e6))) / c;
    expect(ev.stageTimeMs[d - 1]! - ev.stageTimeMs[0]!).toBeCloseTo(tie, 9);
    expect(ev.timePerIterationMs).toBeCloseTo(d * p + tie + (d - 1) * o + (c - 1) * (p + tie), 6);
  });

  it('a tied head pays one all-reduce of the fp32 vocabulary table per iteration over the stages holding copies', () => {
    const [lat, bw, B, c] = [0.1, 0.5, 8, 4];
    const head = model.layers[L - 1]!;
    const bytes = 4 * head.vocabSize * head.hiddenSize;
    const ar = (n: number) => lat + ((2 * (n - 1)) / n) * (bytes / (bw * 1e6));
    const k0 = (t: CostTables) => index(t, { dp: 1, tp: 1, fsdp: false, recompute: false });
    const one = buildCostTables(input(1, B, { latencyMs: lat, busBandwidthGBps: bw }), { stages: 1, microBatches: c, schedule: 'gpipe' });
    expect(one.cost[L - 1]![k0(one)]!.breakdown.gradSyncExposedMs).toBe(0); // a group of one rank
    const two = buildCostTables(input(2, B, { latencyMs: lat, busBandwidthGBps: bw }), { stages: 2, microBatches: c, schedule: 'gpipe' });
    expect(two.cost[L - 1]![k0(two)]!.breakdown.gradSyncExposedMs).toBeCloseTo(ar(2) / c, 9);
    expect(two.cost[0]![k0(two)]!.breakdown.gradSyncExposedMs).toBe(0); // charged once, on the head
  });

  it('recomputation adds one forward per micro-batch', () => {
    const t = buildCostTables(input(1, 4), { stages: 1, microBatches: 2, schedule: 'gpipe' });
    const base = evaluatePlacement(t, uniform(t, { dp: 1, tp: 1, fsdp: false, recompute: false }));
    const rc = evaluatePlacement(t, uniform(t, { dp: 1, tp: 1, fsdp: false, recompute: true }));
    expect(rc.timePerIterationMs - base.timePerIterationMs).toBeCloseTo(2 * L * 2, 9); // c * L * t_f, t_f = b = 2
  });

  it('tensor parallelism pays 2+2 all-reduces per block, not hidden', () => {
    const lat = 0.1;
    const t = buildCostTables(input(2, 4, { latencyMs: lat, busBandwidthGBps: 1e9 }), { stages: 1, microBatches: 1, schedule: 'gpipe' });
    const k = index(t, { dp: 1, tp: 2, fsdp: false, recompute: false });
    const blocks = model.layers.filter((l) => l.type === 'decoder');
    const u = blocks[0]!.index;
    const c = t.cost[u]![k]!;
    expect(c.breakdown.computeMs).toBeCloseTo(3 * (4 / 2), 9);
    expect(c.breakdown.tpCommMs).toBeCloseTo(4 * lat, 6);
  });

  it('gradient all-reduce is charged only where it outlasts backward, once per iteration', () => {
    // 2 devices, dp=2: per-device micro-batch 1 sample -> backward 2 ms per layer. A slow link makes
    // the all-reduce of a decoder block's gradients longer than that.
    const bw = 0.001; // GB/s
    const t = buildCostTables(input(2, 8, { latencyMs: 0, busBandwidthGBps: bw }), { stages: 1, microBatches: 4, schedule: 'gpipe' });
    const k = index(t, { dp: 2, tp: 1, fsdp: false, recompute: false });
    const layer = model.layers.find((l) => l.type === 'decoder')!;
    const bytes = layerParameters(layer) * 4; // fp32 gradients
    const arMs = ((2 * (2 - 1)) / 2) * (bytes / (bw * 1e6));
    const c = t.cost[layer.index]![k]!;
    expect(c.breakdown.gradSyncExposedMs).toBeCloseTo((arMs - 2) / 4, 6);
    expect(c.breakdown.overlappedCommMs).toBeCloseTo(2 / 4, 6);
  });
});

describe('resharding between layers (R)', () => {
  it('an all-gather of the boundary activations over max(dp)/min(dp) ranks when dp changes, else nothing', () => {
    const [lat, bw, B, c] = [0.02, 0.5, 8, 2];
    const t = buildCostTables(input(4, B, { latencyMs: lat, busBandwidthGBps: bw }), { stages: 1, microBatches: c, schedule: 'gpipe' });
    const dp4 = index(t, { dp: 4, tp: 1, fsdp: false, recompute: false });
    const dp2 = index(t, { dp: 2, tp: 2, fsdp: false, recompute: false });
    const dp1 = index(t, { dp: 1, tp: 4, fsdp: false, recompute: true });
    const u = 1;
    const bytes = boundaryActivationBytes(model, u, B / c);
    const ag = (n: number, gathered: number) => lat + ((n - 1) / n) * (gathered / (bw * 1e6));
    expect(t.reshardMs[u]![dp4]![dp4]).toBe(0);
    expect(t.reshardMs[u]![dp4]![dp2]).toBeCloseTo(ag(2, bytes / 2), 9); // forward gather, 2 shards
    expect(t.reshardMs[u]![dp2]![dp4]).toBeCloseTo(ag(2, bytes / 2), 9); // backward gather of gradients
    expect(t.reshardMs[u]![dp4]![dp1]).toBeCloseTo(ag(4, bytes), 9);
  });
});

describe('memory per device', () => {
  it('stage memory = 16 B/param + in-flight x activations; GPipe keeps c, 1F1B min(d - i, c)', () => {
    const [d, c, B] = [2, 4, 8];
    for (const schedule of ['gpipe', '1f1b'] as const) {
      const t = buildCostTables(input(d, B), { stages: d, microBatches: c, schedule });
      const ev = evaluatePlacement(t, uniform(t, { dp: 1, tp: 1, fsdp: false, recompute: false }));
      for (let i = 0; i < d; i++) {
        const layers = model.layers.slice((i * L) / d, ((i + 1) * L) / d);
        const states = layers.reduce((s, l) => s + 16 * layerStoredParameters(l), 0);
        const acts = layers.reduce((s, l) => s + layerActivationBytes(l, B / c, 1), 0);
        const inFlight = schedule === 'gpipe' ? c : Math.min(d - i, c);
        expect(t.inFlight[i]).toBe(inFlight);
        expect(ev.memoryPerStageBytes[i]).toBeCloseTo(states + inFlight * acts, 0);
      }
    }
  });

  it('FSDP divides model states by dp; a budget below the need is reported as the binding constraint', () => {
    const inp = input(4, 8);
    const t = buildCostTables(inp, { stages: 1, microBatches: 2, schedule: 'gpipe' });
    const plain = evaluatePlacement(t, uniform(t, { dp: 4, tp: 1, fsdp: false, recompute: false }));
    const sharded = evaluatePlacement(t, uniform(t, { dp: 4, tp: 1, fsdp: true, recompute: false }));
    const states = model.layers.reduce((s, l) => s + 16 * layerStoredParameters(l), 0);
    expect(plain.memoryPerStageBytes[0]! - sharded.memoryPerStageBytes[0]!).toBeGreaterThan(0.74 * states - 2 * 4 * Math.max(...model.layers.map(layerStoredParameters)));
    const tight = buildCostTables({ ...inp, options: { ...inp.options, memoryBudgetBytes: plain.memoryPerStageBytes[0]! - 1 } }, { stages: 1, microBatches: 2, schedule: 'gpipe' });
    const ev = evaluatePlacement(tight, uniform(tight, { dp: 4, tp: 1, fsdp: false, recompute: false }));
    expect(ev.feasible).toBe(false);
    expect(ev.violations[0]).toMatch(/^memory of stage 0: .* GiB > .* GiB usable per device$/);
  });
});

describe('plan JSON round trip', () => {
  it("estimate on a plan's JSON gives exactly its predictions", () => {
    const inp = input(4, 8, { latencyMs: 0.05, busBandwidthGBps: 2 });
    const t = buildCostTables(inp, { stages: 2, microBatches: 4, schedule: '1f1b' });
    const s1 = index(t, { dp: 2, tp: 1, fsdp: false, recompute: false });
    const s2 = index(t, { dp: 1, tp: 2, fsdp: false, recompute: true });
    const placement: Placement = { stageStart: [0, 2], strategy: [s1, s2, s1, s1, s2, s2] };
    const plan = planFromPlacement(inp, t, placement);
    const round = JSON.parse(JSON.stringify(plan));
    const report = estimatePlan(inp, round);
    expect(report.timePerIterationMs).toBe(plan.predictions!.timePerIterationMs);
    expect(report.memory.map((m) => m.totalBytes)).toEqual(plan.predictions!.memoryPerStageBytes);
    const { computeMs, exposedCommMs, bubbleMs } = report.breakdown;
    expect(computeMs + exposedCommMs + bubbleMs).toBeCloseTo(report.timePerIterationMs, 9);
  });
});
