// Sequence parallelism and selective recomputation in the cost model, against closed forms on a
// synthetic profile (eager attention: its kept bytes are layerActivationBytes without options):
// - sp: each tp all-reduce becomes a reduce-scatter + all-gather of the same bytes; kept activations
//   are the Korthikanti et al. 2022 sp formula; full recomputation keeps 1/tp of the input;
// - selective: one more attention-core forward (its FLOPs share of the forward time), the s x S
//   tensors not kept; under flash attention it saves nothing and is pruned as dominated;
// - boundaries: sp layers on the same groups pass the slice (no cost), otherwise the sp side gathers
//   the hidden states over tp (R within a stage, added to R' across stages).
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { layerActivationBytes, layerAttentionCoreFlopsPerSample, layerForwardFlopsPerSample, layerInputBytes, layerOutputBytes } from '../../configs/model-derive.ts';
import { layerTpCollectives } from '../../configs/model-tp.ts';
import { prepareCostModel } from './input.ts';
import { buildCostTables } from './build.ts';
import { syntheticCollectiveMs, syntheticProfile } from './synthetic-profile.ts';
import { pruneDominated } from './dominated-strategies.ts';
import type { CostTables } from './tables.ts';
import { sameStrategy, type Strategy } from '../strategy.ts';

const model = loadModel('tiny-gpt'); // embedding, 4 decoder blocks, head
const block = model.layers[1]!;
const LAT = 0.01;
const BW = 2; // GB/s
const coll = syntheticCollectiveMs({ latencyMs: LAT, busBandwidthGBps: BW });

function tables(devices: number, stages: number, attention?: 'flash' | 'eager'): CostTables {
  const profile = syntheticProfile(model, {
    microBatches: [1, 2, 4, 8],
    tpDegrees: [1, 2, 4],
    forwardMs: (_l, m, tp) => m / tp,
    capacityBytes: 64 * 1024 ** 3,
    link: { latencyMs: LAT, busBandwidthGBps: BW, maxGroup: 4, maxNodes: 1 },
  });
  if (attention) profile.attention = attention;
  const input = prepareCostModel(model, localCpuCluster(devices), { globalBatch: 8, profile });
  return buildCostTables(input, { stages, microBatches: 2, schedule: '1f1b' });
}

function k(t: CostTables, s: Strategy): number {
  const i = t.strategies.findIndex((x) => sameStrategy(x, s));
  expect(i, JSON.stringify(s)).toBeGreaterThanOrEqual(0);
  return i;
}

const TP2: Strategy = { dp: 1, tp: 2, fsdp: false, recompute: false };
const SP2: Strategy = { ...TP2, sp: true };

describe('sequence parallelism in the cost model', () => {
  const t = tables(2, 1);
  const m = 4; // micro-batch 4, dp 1

  it('replaces every tp all-reduce by a reduce-scatter and an all-gather of the same bytes', () => {
    const c = layerTpCollectives(block);
    const bytes = c.bytesPerSample * m;
    const n = c.forwardAllReduces + c.backwardAllReduces;
    expect(t.cost[1]![k(t, TP2)]!.breakdown.tpCommMs).toBeCloseTo(n * coll('all-reduce', bytes, 2), 12);
    expect(t.cost[1]![k(t, SP2)]!.breakdown.tpCommMs).toBeCloseTo(n * (coll('reduce-scatter', bytes, 2) + coll('all-gather', bytes, 2)), 12);
    expect(t.cost[1]![k(t, SP2)]!.breakdown.computeMs).toBe(t.cost[1]![k(t, TP2)]!.breakdown.computeMs);
  });

  it('keeps the sp activations of Korthikanti et al. 2022, and 1/tp of the input under full recomputation', () => {
    expect(t.cost[1]![k(t, SP2)]!.activationBytes).toBeCloseTo(layerActivationBytes(block, m, 2, { sequenceParallel: true }), 6);
    expect(t.cost[1]![k(t, SP2)]!.activationBytes).toBeLessThan(t.cost[1]![k(t, TP2)]!.activationBytes);
    expect(t.cost[1]![k(t, { ...SP2, recompute: true })]!.activationBytes).toBe(layerInputBytes(block, m) / 2);
  });

  it('is allowed on the blocks only', () => {
    const s = k(t, SP2);
    expect(t.allowed.map((row) => row[s])).toEqual([false, true, true, true, true, false]);
  });

  it('costs nothing between two sp layers on the same groups and an all-gather of the hidden states otherwise', () => {
    const ag = coll('all-gather', layerOutputBytes(block, m), 2);
    const R = t.reshardMs[1]!;
    expect(R[k(t, SP2)]![k(t, SP2)]).toBe(0);
    expect(R[k(t, SP2)]![k(t, { ...SP2, recompute: true })]).toBe(0); // same layout
    expect(R[k(t, SP2)]![k(t, TP2)]).toBeCloseTo(ag, 12); // forward gather after the sp layer
    expect(R[k(t, TP2)]![k(t, SP2)]).toBeCloseTo(ag, 12); // backward gather of the gradient before it
    expect(R[k(t, TP2)]![k(t, TP2)]).toBe(0);
  });

  it('gathers on both sides of a stage boundary', () => {
    const two = tables(4, 2);
    const u = 2; // a block ending stage 0 when the boundary is after layer 2
    const ag = coll('all-gather', layerOutputBytes(block, m), 2);
    const P = two.p2pMs[0]![u]!;
    const base = P[k(two, TP2)]![k(two, TP2)]!;
    expect(P[k(two, SP2)]![k(two, TP2)]! - base).toBeCloseTo(ag, 12);
    expect(P[k(two, SP2)]![k(two, SP2)]! - base).toBeCloseTo(2 * ag, 12);
  });
});

describe('selective recomputation in the cost model', () => {
  const DP2: Strategy = { dp: 2, tp: 1, fsdp: false, recompute: false };
  const SEL: Strategy = { ...DP2, selectiveRecompute: true };
  const m = 2; // micro-batch 4 over dp 2

  it('adds the attention core forward and drops its s x S tensors (eager attention)', () => {
    const t = tables(2, 1, 'eager');
    const plain = t.cost[1]![k(t, DP2)]!;
    const sel = t.cost[1]![k(t, SEL)]!;
    const fwd = m; // forwardMs = m / tp
    const share = layerAttentionCoreFlopsPerSample(block) / layerForwardFlopsPerSample(block);
    expect(share).toBeGreaterThan(0);
    expect(sel.breakdown.computeMs - plain.breakdown.computeMs).toBeCloseTo(share * fwd, 12);
    expect(sel.activationBytes).toBeCloseTo(layerActivationBytes(block, m, 1, { selectiveRecompute: true }), 6);
    expect(sel.activationBytes).toBeLessThan(plain.activationBytes);
    // Neither replaces the other: no pruning between them.
    const kept = pruneDominated(t).tables.allowed[1]!;
    expect([kept[k(t, DP2)], kept[k(t, SEL)]]).toEqual([true, true]);
  });

  it('saves nothing under flash attention, so the search leaves it out as dominated', () => {
    const t = tables(2, 1, 'flash');
    const plain = t.cost[1]![k(t, DP2)]!;
    const sel = t.cost[1]![k(t, SEL)]!;
    expect(sel.activationBytes).toBe(plain.activationBytes);
    expect(sel.timeMs).toBeGreaterThan(plain.timeMs);
    expect(pruneDominated(t).tables.allowed[1]![k(t, SEL)]).toBe(false);
  });

  it('on the embedding and the head (no attention) it is the same as none and is pruned', () => {
    const t = tables(2, 1, 'eager');
    const kept = pruneDominated(t).tables.allowed;
    for (const u of [0, 5]) {
      expect(t.cost[u]![k(t, SEL)]!.timeMs).toBe(t.cost[u]![k(t, DP2)]!.timeMs);
      expect(kept[u]![k(t, SEL)]).toBe(false);
    }
  });
});
