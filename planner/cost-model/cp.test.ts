// Ulysses context parallelism in the cost model, against closed forms on a synthetic profile:
// - compute, kept activations and working set are the profile's at m / cp samples (what dp x cp data
//   parallelism reads), the tp all-reduces carry 1/cp of the bytes;
// - four all-to-alls per pass (q, k, v, the output; forward and backward, again in a recomputed
//   forward), each priced as an all-gather of the per-rank buffer (native), or of cp buffers (Gloo's
//   emulation, Profile.allToAll 'all-gather');
// - parameters are held like dp x cp replicas: the gradient sync and the ZeRO shards span dp x cp;
// - boundaries: cp layers on the same groups pass the sequence slice (no cost), otherwise the cp side
//   all-gathers its rows' hidden states over cp (R within a stage, added to R' across stages).
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { loadCluster, localCpuCluster } from '../../configs/cluster-presets.ts';
import { layerAttentionCoreFlopsPerSample, layerForwardFlopsPerSample, layerOutputBytes } from '../../configs/model-derive.ts';
import { modelStateBytes } from './memory.ts';
import { prepareCostModel, type CostModelInput } from './input.ts';
import { buildCostTables, lookupFor } from './build.ts';
import { layerShapeKey } from '../../configs/model-derive.ts';
import { syntheticCollectiveMs, syntheticProfile } from './synthetic-profile.ts';
import type { CostTables } from './tables.ts';
import { sameStrategy, type Strategy } from '../strategy.ts';

const model = loadModel('tiny-gpt'); // embedding, 4 decoder blocks (4 heads, hidden 128, 64 tokens, fp32), head
const block = model.layers[1]!;
const LAT = 0.01;
const BW = 2; // GB/s
const coll = syntheticCollectiveMs({ latencyMs: LAT, busBandwidthGBps: BW });

function inputOf(devices: number, globalBatch: number, allToAll?: 'native' | 'all-gather'): CostModelInput {
  const profile = syntheticProfile(model, {
    microBatches: [1, 2, 4, 8],
    tpDegrees: [1, 2, 4],
    forwardMs: (_l, m, tp) => 1 + m / tp, // an intercept: the profile read at m / cp is not just t(m) / cp
    capacityBytes: 64 * 1024 ** 3,
    link: { latencyMs: LAT, busBandwidthGBps: BW, maxGroup: 4, maxNodes: 1 },
  });
  if (allToAll) profile.allToAll = allToAll;
  return prepareCostModel(model, localCpuCluster(devices), { globalBatch, profile, options: { allowSp: false, maxCp: 8 } });
}

function tables(devices: number, stages: number, globalBatch: number, allToAll?: 'native' | 'all-gather'): CostTables {
  return buildCostTables(inputOf(devices, globalBatch, allToAll), { stages, microBatches: globalBatch, schedule: '1f1b' });
}

function k(t: CostTables, s: Strategy): number {
  const i = t.strategies.findIndex((x) => sameStrategy(x, s));
  expect(i, JSON.stringify(s)).toBeGreaterThanOrEqual(0);
  return i;
}

const CP2: Strategy = { dp: 1, tp: 1, cp: 2, fsdp: false, recompute: false };
const DP2: Strategy = { dp: 2, tp: 1, fsdp: false, recompute: false };
const TP2: Strategy = { dp: 1, tp: 2, fsdp: false, recompute: false };
// a micro-batch of one sample (global batch = micro-batches): dp 2 cannot take both ranks, cp can
const q = 64 * 128 * 4 / 2; // this rank's q (and output): 32 tokens x 4 heads x 32 x 4 bytes
const kv = q; // no grouped-query attention in tiny-gpt

describe('context parallelism (Ulysses) in the cost model', () => {
  it('is offered where the micro-batch is too small for dp, on the blocks only', () => {
    const t = tables(2, 1, 2);
    expect(t.microBatchSize).toBe(1);
    const c = k(t, CP2);
    expect(t.allowed.map((row) => row[c])).toEqual([false, true, true, true, true, false]);
    expect(t.strategies.some((s) => s.dp === 2)).toBe(true);
    expect(t.allowed[1]![k(t, DP2)]).toBe(false); // 1 row does not split 2 ways
    const rows = buildCostTables(inputOf(2, 2), { stages: 1, microBatches: 1, schedule: '1f1b' }); // 2 rows: dp 2 takes the ranks
    expect(rows.strategies.some((s) => (s.cp ?? 1) > 1)).toBe(false);
  });

  it('computes the profile at m / cp samples and keeps its activations there', () => {
    const input = inputOf(2, 2);
    const t = buildCostTables(input, { stages: 1, microBatches: 2, schedule: '1f1b' });
    const cpCost = t.cost[1]![k(t, CP2)]!;
    const half = lookupFor(input).layer(layerShapeKey(block), 0.5, 1); // extrapolated from m = 1, 2
    expect(cpCost.breakdown.computeMs).toBeCloseTo(half.forwardMs + half.backwardMs, 9);
    expect(half.forwardMs).toBeCloseTo(1.5, 9); // 1 + m at m = 0.5: not t(1) / 2
    expect(cpCost.activationBytes).toBeCloseTo(half.activationBytes, 6);
  });

  it('runs four all-to-alls per pass, priced as all-gathers: of the buffer (native) or of cp buffers (Gloo)', () => {
    const native = tables(2, 1, 2, 'native');
    const gloo = tables(2, 1, 2, 'all-gather');
    const pass = (x: number) => 2 * coll('all-gather', x * q, 2) + 2 * coll('all-gather', x * kv, 2);
    expect(native.cost[1]![k(native, CP2)]!.breakdown.tpCommMs).toBeCloseTo(2 * pass(1), 12);
    expect(gloo.cost[1]![k(gloo, CP2)]!.breakdown.tpCommMs).toBeCloseTo(2 * pass(2), 12);
    expect(native.cost[1]![k(native, { ...CP2, recompute: true })]!.breakdown.tpCommMs).toBeCloseTo(3 * pass(1), 12);
  });

  it('ring attention: cp - 1 exchanges of the K and V block per pass, the forward ones hidden behind a block of the attention core', () => {
    const input = inputOf(2, 2, 'native');
    const t = buildCostTables(input, { stages: 1, microBatches: 2, schedule: '1f1b' });
    const RING: Strategy = { ...CP2, cpComm: 'p2p' };
    const c = t.cost[1]![k(t, RING)]!;
    const step = LAT + (2 * kv) / (BW * 1e6); // p2p of this rank's K and V (bus factor 1)
    const fwd = lookupFor(input).layer(layerShapeKey(block), 0.5, 1).forwardMs;
    const core = (layerAttentionCoreFlopsPerSample(block) / layerForwardFlopsPerSample(block)) * fwd;
    const hiddenFwd = Math.max(0, step - core / 2);
    expect(c.breakdown.tpCommMs).toBeCloseTo(hiddenFwd + step, 12); // cp - 1 = 1 step each way
    expect(t.cost[1]![k(t, { ...RING, recompute: true })]!.breakdown.tpCommMs).toBeCloseTo(2 * hiddenFwd + step, 12);
    // the same compute and memory as Ulysses: the same work split the same way
    expect(c.breakdown.computeMs).toBeCloseTo(t.cost[1]![k(t, CP2)]!.breakdown.computeMs, 9);
    expect(c.activationBytes).toBe(t.cost[1]![k(t, CP2)]!.activationBytes);
    // selective recomputation is not offered with ring attention
    expect(t.strategies.some((s) => s.cpComm === 'p2p' && s.selectiveRecompute)).toBe(false);
  });

  it('charges a causal ring under fused attention its last rank\'s extra blocks: (2cp - 1)/cp of the mean core time', () => {
    const profile = syntheticProfile(model, {
      microBatches: [1, 2, 4, 8], tpDegrees: [1, 2, 4], forwardMs: (_l, m, tp) => 1 + m / tp,
      capacityBytes: 64 * 1024 ** 3, link: { latencyMs: LAT, busBandwidthGBps: BW, maxGroup: 4, maxNodes: 1 },
    });
    const at = (attention: 'flash' | 'eager') => {
      const input = prepareCostModel(model, localCpuCluster(2), { globalBatch: 2, profile: { ...profile, attention }, options: { allowSp: false, maxCp: 8 } });
      const t = buildCostTables(input, { stages: 1, microBatches: 2, schedule: '1f1b' });
      return (s: Strategy) => t.cost[1]![k(t, s)]!.breakdown.computeMs;
    };
    const RING: Strategy = { ...CP2, cpComm: 'p2p' };
    const e = lookupFor(prepareCostModel(model, localCpuCluster(2), { globalBatch: 2, profile, options: { maxCp: 8 } })).layer(layerShapeKey(block), 0.5, 1);
    const share = layerAttentionCoreFlopsPerSample(block) / layerForwardFlopsPerSample(block) / 2;
    const flash = at('flash');
    expect(flash(RING) - flash(CP2)).toBeCloseTo((e.forwardMs + e.backwardMs) * share * (1 / 2), 9);
    expect(flash({ ...RING, recompute: true }) - flash({ ...CP2, recompute: true })).toBeCloseTo((2 * e.forwardMs + e.backwardMs) * share * (1 / 2), 9);
    const eager = at('eager');
    expect(eager(RING)).toBeCloseTo(eager(CP2), 12); // whole blocks on both: balanced
  });

  it('prices a ring whose cp group spans four nodes with the P2P of two ranks on two nodes (datasheet profile, 4 x 8 H100)', () => {
    const input = prepareCostModel(loadModel('tiny-gpt', 512), loadCluster('h100-4x8'), { globalBatch: 1, options: { maxCp: 8 } });
    const t = buildCostTables(input, { stages: 1, microBatches: 1, schedule: '1f1b' });
    // tp 4 x cp 8: the cp group (stride 4) spans all four nodes
    const ring8 = t.strategies.findIndex((s) => s.tp === 4 && s.cp === 8 && s.cpComm === 'p2p' && !s.recompute && !s.fsdp && !s.zero);
    expect(ring8).toBeGreaterThanOrEqual(0);
    expect(t.allowed[1]![ring8]).toBe(true); // 1 head per tp rank: Ulysses cannot split it 8 ways, the ring can
    expect(t.strategies.some((s, i) => s.tp === 4 && s.cp === 8 && s.cpComm !== 'p2p' && t.allowed[1]![i])).toBe(false);
    expect(Number.isFinite(t.cost[1]![ring8]!.timeMs)).toBe(true);
  });

  it('holds parameters like dp x cp replicas: ZeRO shards and the gradient sync span dp x cp', () => {
    const t = tables(2, 1, 2);
    const z1 = t.cost[1]![k(t, { ...CP2, zero: 1 })]!;
    const params = t.cost[1]![k(t, CP2)]!.stateBytes / modelStateBytes(1, block.dtype, 0, 1).totalBytes;
    expect(z1.stateBytes).toBeCloseTo(modelStateBytes(params, block.dtype, 1, 2).totalBytes, 3);
    expect(z1.stateBytes).toBeLessThan(t.cost[1]![k(t, CP2)]!.stateBytes);
    // the replicas over cp all-reduce their gradients (hidden behind the backward here)
    expect(t.cost[1]![k(t, CP2)]!.breakdown.overlappedCommMs).toBeGreaterThan(0);
  });

  it('costs nothing between two cp layers on the same groups and an all-gather of the hidden states otherwise', () => {
    const t = tables(2, 1, 2);
    const m = 1;
    const ag = coll('all-gather', layerOutputBytes(block, m), 2);
    const R = t.reshardMs[1]!;
    expect(R[k(t, CP2)]![k(t, CP2)]).toBe(0);
    expect(R[k(t, CP2)]![k(t, { ...CP2, recompute: true })]).toBe(0);
    expect(R[k(t, CP2)]![k(t, TP2)]).toBeCloseTo(ag, 12);
    expect(R[k(t, TP2)]![k(t, CP2)]).toBeCloseTo(ag, 12);
  });

  it('gathers on the cp sides of a stage boundary', () => {
    const two = tables(4, 2, 4);
    const u = 2;
    const ag = coll('all-gather', layerOutputBytes(block, 1), 2);
    const P = two.p2pMs[0]![u]!;
    const base = P[k(two, TP2)]![k(two, TP2)]!;
    expect(P[k(two, CP2)]![k(two, TP2)]! - base).toBeCloseTo(ag, 12);
    expect(P[k(two, CP2)]![k(two, CP2)]! - base).toBeCloseTo(2 * ag, 12);
  });
});
