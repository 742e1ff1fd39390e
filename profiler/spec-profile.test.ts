// The datasheet ("spec") profile: validates through parseProfile, roofline times behave, memory
// fields follow the model-derive formulas, and collective entries follow the bus-bandwidth model
// (numbers checked by hand).
import { describe, expect, it } from 'vitest';
import { loadCluster } from '../configs/cluster-presets.ts';
import { resolveCluster } from '../configs/cluster-resolve.ts';
import { UniapError } from '../common/errors.ts';
import { layerActivationBytes, layerForwardFlopsPerSample, layerParameters, layerShapeKey, layerOutputBytes } from '../configs/model-derive.ts';
import { layerParametersPerTpRank, tpDivides } from '../configs/model-tp.ts';
import type { DType, LayerSpec, LayerType, ModelSpec } from '../configs/model-spec.ts';
import { busFactor } from './profile.ts';
import { parseProfile } from './profile-io.ts';
import { ProfileLookup } from './profile-lookup.ts';
import { layerTimesMs } from './op-model.ts';
import { deriveSpecProfile, groupShapes } from './spec-profile.ts';

function layer(index: number, type: LayerType, dtype: DType, over: Partial<LayerSpec> = {}): LayerSpec {
  return {
    index,
    type,
    name: `${type}.${index}`,
    chain: 'decoder',
    hiddenSize: 1024,
    inputHiddenSize: 1024,
    ffnSize: type === 'decoder' ? 4096 : 0,
    activation: 'gelu',
    heads: type === 'decoder' ? 16 : 0,
    kvHeads: type === 'decoder' ? 16 : 0,
    headDim: type === 'decoder' ? 64 : 0,
    seqLength: 512,
    attentionSpan: type === 'decoder' ? 512 : 0,
    encoderSeqLength: 0,
    vocabSize: type === 'decoder' ? 0 : 32000,
    norm: 'layernorm',
    bias: true,
    positionEmbedding: type === 'embedding' ? 'learned' : 'none',
    resolution: 0,
    windowSize: 0,
    patchMerging: false,
    patchSize: 0,
    imageSize: 0,
    channels: 0,
    tiedEmbedding: false,
    headTransform: false,
    dtype,
    ...over,
  };
}

/** A small GPT-like chain: embedding, 4 identical decoder layers, head. */
function model(dtype: DType = 'bf16'): ModelSpec {
  const layers = [layer(0, 'embedding', dtype)];
  for (let i = 1; i <= 4; i++) layers.push(layer(i, 'decoder', dtype));
  layers.push(layer(5, 'head', dtype));
  return {
    schemaVersion: 1,
    name: 'tiny-gpt',
    family: 'decoder-only',
    dtype,
    layers,
    edges: layers.slice(1).map((l) => ({ from: l.index - 1, to: l.index })),
    source: 'test',
  };
}

const DATE = new Date('2025-02-01T00:00:00Z');
const REQUEST = { microBatches: [1, 2, 4, 8], tpDegrees: [1, 2, 4, 8] };

describe('deriveSpecProfile: layers', () => {
  const m = model();
  const cluster = loadCluster('h100-4x8');
  const p = deriveSpecProfile(m, cluster, REQUEST, { date: DATE });

  it('validates through parseProfile (JSON round trip)', () => {
    expect(parseProfile(JSON.parse(JSON.stringify(p)), 'spec.json')).toEqual(p);
    expect(p.provenance).toMatchObject({ kind: 'derived', device: 'H100-SXM', date: DATE.toISOString(), tool: 'uniap spec-profile' });
    expect(p.cluster).toEqual({ name: 'h100-4x8', nodes: 4, devicesPerNode: 8 });
    expect(p.overlapSlowdown).toBe(0);
    // 80 GiB; reserved 1 GiB + 5% = 5 GiB.
    expect(p.device).toEqual({ name: 'H100-SXM', capacityBytes: 80 * 2 ** 30, reservedBytes: 5 * 2 ** 30 });
  });

  it('has one entry per distinct shape x micro-batch x dividing tp', () => {
    const shapes = new Set(m.layers.map(layerShapeKey));
    expect(shapes.size).toBe(3); // embedding, decoder (x4, one shape), head
    let expected = 0;
    for (const key of shapes) {
      const l = m.layers.find((x) => layerShapeKey(x) === key)!;
      expected += REQUEST.tpDegrees.filter((t) => tpDivides(l, t)).length * REQUEST.microBatches.length;
    }
    expect(p.layers).toHaveLength(expected);
    expect(new Set(p.layers.map((e) => e.shapeKey))).toEqual(shapes);
  });

  it('skips tp degrees that do not divide a layer', () => {
    const odd = model();
    for (const l of odd.layers) if (l.type === 'decoder') Object.assign(l, { heads: 12, kvHeads: 12, headDim: 64, hiddenSize: 768, inputHiddenSize: 768, ffnSize: 3072 });
    const dec = odd.layers[1]!;
    expect(tpDivides(dec, 8)).toBe(false); // 12 heads
    const q = deriveSpecProfile(odd, cluster, REQUEST, { date: DATE });
    const tps = new Set(q.layers.filter((e) => e.shapeKey === layerShapeKey(dec)).map((e) => e.tp));
    expect(tps.has(8)).toBe(false);
    expect(tps.has(4)).toBe(true);
  });

  it('time grows with micro-batch and shrinks with tp', () => {
    const dec = layerShapeKey(m.layers[1]!);
    const at = (b: number, tp: number) => p.layers.find((e) => e.shapeKey === dec && e.microBatch === b && e.tp === tp)!;
    for (const tp of REQUEST.tpDegrees) {
      for (let i = 1; i < REQUEST.microBatches.length; i++) {
        // Non-strict: a small layer's kernels can sit at the launch floor (profiler/op-model.ts).
        expect(at(REQUEST.microBatches[i]!, tp).forwardMs).toBeGreaterThanOrEqual(at(REQUEST.microBatches[i - 1]!, tp).forwardMs);
      }
    }
    for (const b of REQUEST.microBatches) {
      for (let i = 1; i < REQUEST.tpDegrees.length; i++) {
        expect(at(b, REQUEST.tpDegrees[i]!).forwardMs).toBeLessThanOrEqual(at(b, REQUEST.tpDegrees[i - 1]!).forwardMs);
      }
    }
    const [b0, b1] = [REQUEST.microBatches[0]!, REQUEST.microBatches[REQUEST.microBatches.length - 1]!];
    const [t0, t1] = [REQUEST.tpDegrees[0]!, REQUEST.tpDegrees[REQUEST.tpDegrees.length - 1]!];
    expect(at(b1, t0).forwardMs).toBeGreaterThan(at(b0, t0).forwardMs);
    expect(at(b1, t1).forwardMs).toBeLessThan(at(b1, t0).forwardMs);
  });

  it('times layers per operator with the 16-bit peak and the device factors; memory from model-derive', () => {
    const l = m.layers[1]!;
    const e = p.layers.find((x) => x.shapeKey === layerShapeKey(l) && x.microBatch === 4 && x.tp === 2)!;
    const params = layerParametersPerTpRank(l, 2) * 2; // bf16: 2 bytes
    const act = layerActivationBytes(l, 4, 2, { flashAttention: true }); // GPUs: flash, as the timing
    const t = layerTimesMs(l, 4, 2, {
      peakTflops: 989, gemmEfficiency: 0.801, gemmHalfDim: 64, attentionEfficiency: 0.55, memoryBandwidthGBps: 3350,
      memoryEfficiency: 0.8, launchFloorUs: 4, flashAttention: true, dropout: l.norm === 'layernorm',
    });
    expect(e.forwardMs).toBeCloseTo(t.forwardMs, 12);
    expect(e.backwardMs).toBeCloseTo(t.backwardMs, 12);
    // Not faster than its FLOPs at the large-GEMM efficiency allow.
    expect(e.forwardMs).toBeGreaterThan((((layerForwardFlopsPerSample(l) * 4) / 2 / (989e12 * 0.801)) * 1e3) * 0.5);
    expect(e.parameterBytes).toBe(params);
    expect(e.activationBytes).toBe(act);
    expect(e.workingSetBytes).toBe(params + 2 * layerOutputBytes(l, 4));
    expect(e.tpCommunication).toBe('excluded');
  });

  it('uses the fp32 peak on a device without 16-bit tensor cores and for fp32 models', () => {
    const peakOf = (prof: ReturnType<typeof deriveSpecProfile>) => Number(/peak ([\d.]+) TFLOPS \((16-bit tensor|fp32)\)/.exec(prof.provenance.notes!.join(' '))![1]);
    const titan = deriveSpecProfile(model('bf16'), loadCluster('paper-titanxp-2x4'), { microBatches: [8], tpDegrees: [1] }, { date: DATE });
    expect(peakOf(titan)).toBe(12.1);
    expect(titan.provenance.notes!.join(' ')).toMatch(/\(fp32\)/);
    const fp32 = deriveSpecProfile(model('fp32'), loadCluster('h100-1x8'), { microBatches: [8], tpDegrees: [1] }, { date: DATE });
    expect(peakOf(fp32)).toBe(66.9);
    const bf16 = deriveSpecProfile(model('bf16'), loadCluster('h100-1x8'), { microBatches: [8], tpDegrees: [1] }, { date: DATE });
    expect(peakOf(bf16)).toBe(989);
    const l32 = model('fp32').layers[1]!;
    const e32 = fp32.layers.find((x) => x.shapeKey === layerShapeKey(l32))!;
    const e16 = bf16.layers.find((x) => x.shapeKey === layerShapeKey(model('bf16').layers[1]!))!;
    expect(e32.forwardMs).toBeGreaterThan(e16.forwardMs);
    expect(e32.parameterBytes).toBe(layerParameters(l32) * 4);
  });

  it('rejects heterogeneous clusters and bad requests', () => {
    const mixed = resolveCluster(
      {
        name: 'mixed',
        nodes: [
          { deviceType: 'H100-SXM', devices: 8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 450 } },
          { deviceType: 'A100-40GB-SXM', devices: 8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 300 } },
        ],
        interNodeLink: { kind: 'infiniband', bandwidthGBps: 200 },
      },
      'mixed.json',
    );
    expect(() => deriveSpecProfile(m, mixed, REQUEST)).toThrow(UniapError);
    expect(() => deriveSpecProfile(m, cluster, { microBatches: [0], tpDegrees: [1] })).toThrow(/micro-batch size 0 is not valid/);
    expect(() => deriveSpecProfile(m, cluster, { microBatches: [1], tpDegrees: [1.5] })).toThrow(/tensor-parallel degree 1.5/);
  });
});

describe('deriveSpecProfile: links', () => {
  const h1 = deriveSpecProfile(model(), loadCluster('h100-1x8'), REQUEST, { date: DATE });
  const h4 = deriveSpecProfile(model(), loadCluster('h100-4x8'), REQUEST, { date: DATE });
  const find = (p: typeof h1, c: string, g: number, n: number) => p.links.find((e) => e.collective === c && e.groupSize === g && e.nodes === n)!;

  it('lists every group shape the rank layout can produce', () => {
    expect(groupShapes(1, 8)).toEqual([
      { groupSize: 2, nodes: 1 },
      { groupSize: 4, nodes: 1 },
      { groupSize: 8, nodes: 1 },
    ]);
    const s = groupShapes(4, 8).map((x) => `${x.groupSize}/${x.nodes}`);
    expect(s).toEqual(['2/1', '2/2', '4/1', '4/2', '4/3', '4/4', '8/1', '8/2', '8/3', '8/4', '16/2', '16/3', '16/4', '32/4']);
    // 5 nodes x 8: a stage of 20 ranks covers 8 + 8 + 4 ranks of 3 nodes.
    expect(groupShapes(5, 8).some((x) => x.groupSize === 20 && x.nodes === 3)).toBe(true);
    // local-cpu:3 — 3 divides the devices per node; 2 is a power of two.
    expect(groupShapes(1, 3).map((x) => x.groupSize)).toEqual([2, 3]);
    // p2p only for pairs; all four collectives present.
    expect(h4.links.filter((e) => e.collective === 'p2p').map((e) => e.nodes)).toEqual([1, 2]);
    expect(h4.links).toHaveLength(14 * 3 + 2); // 14 shapes x 3 collectives + p2p (2/1, 2/2)
  });

  it('inside a node: bus bandwidth = NVLink4 450 x 0.82, ring latency', () => {
    const ar = find(h1, 'all-reduce', 8, 1);
    expect(ar.busBandwidthGBps).toBeCloseTo(369, 9); // 450 x 0.82 (8xH100 measures ~370)
    // 8.4 µs base + 2(8-1) = 14 steps x 1.9 µs = 35.0 µs
    expect(ar.latencyMs).toBeCloseTo(0.035, 12);
    const ag = find(h1, 'all-gather', 4, 1);
    expect(ag.latencyMs).toBeCloseTo((8.4 + 3 * 1.9) / 1000, 12);
    // 1 GB all-reduce on 8 ranks: 0.035 ms + 1.75 x 1e9 B / 369e9 B/s = 0.035 + 4.74255 ms.
    const ms = new ProfileLookup(h1).collectiveMs('all-reduce', 1e9, 8, 1);
    expect(ms).toBeCloseTo(0.035 + 4.742547425, 6);
    expect(ms).toBeCloseTo(ar.latencyMs + (busFactor('all-reduce', 8) * 1e9) / (ar.busBandwidthGBps * 1e6), 12);
  });

  it('across nodes: k ranks per node use k/8 of the 400 GB/s NICs, latency by ring or tree', () => {
    // 32 ranks, 8 per node: min(369, 8 x 400/8 x 0.9 = 360) = 360.
    const full = find(h4, 'all-reduce', 32, 4);
    expect(full.busBandwidthGBps).toBeCloseTo(360, 9);
    // tree: 2((8-1) x 1.9 + log2(4) x 4.0) = 42.6 µs < ring (56 x 1.9 + 6 x 4.0 = 130.4 µs); + 8.4 base.
    expect(full.latencyMs).toBeCloseTo(0.051, 12);
    // Strided, one rank per node: 1 x 50 x 0.9 = 45 GB/s.
    expect(find(h4, 'all-reduce', 4, 4).busBandwidthGBps).toBeCloseTo(45, 9);
    // Two ranks per node over 2 nodes: 2 x 50 x 0.9 = 90.
    expect(find(h4, 'reduce-scatter', 4, 2).busBandwidthGBps).toBeCloseTo(90, 9);
    // all-gather ring over 16 ranks on 2 nodes: (15 - 1) intra steps + 1 inter step.
    expect(find(h4, 'all-gather', 16, 2).latencyMs).toBeCloseTo((8.4 + 14 * 1.9 + 4.0) / 1000, 12);
    // Uneven: 20 ranks on 3 nodes of a 5 x 8 cluster -> k = floor(20/3) = 6: 6 x 50 x 0.9 = 270.
    const c5 = resolveCluster(
      {
        name: 'h100-5x8',
        nodes: [{ count: 5, deviceType: 'H100-SXM', devices: 8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 450 } }],
        interNodeLink: { kind: 'infiniband', bandwidthGBps: 400, latencyUs: 4 },
      },
      'c5',
    );
    const p5 = deriveSpecProfile(model(), c5, REQUEST, { date: DATE });
    expect(find(p5, 'all-gather', 20, 3).busBandwidthGBps).toBeCloseTo(270, 9);
    // p2p across nodes: one NIC, one network step.
    const p2p = find(h4, 'p2p', 2, 2);
    expect(p2p.busBandwidthGBps).toBeCloseTo(45, 9);
    expect(p2p.latencyMs).toBeCloseTo((8.4 + 4.0) / 1000, 12);
    expect(find(h4, 'p2p', 2, 1).busBandwidthGBps).toBeCloseTo(369, 9);
  });

  it('the TITAN Xp environment is bound by 10 Gbps Ethernet', () => {
    const t = deriveSpecProfile(model(), loadCluster('paper-titanxp-2x4'), { microBatches: [1], tpDegrees: [1] }, { date: DATE });
    const ag = t.links.find((e) => e.collective === 'all-gather' && e.groupSize === 8 && e.nodes === 2)!;
    // min(PCIe 12 x 0.8 = 9.6, 4 x 1.25/4 x 0.8 = 1.0) = 1.0 GB/s
    expect(ag.busBandwidthGBps).toBeCloseTo(1.0, 12);
    // (7 - 1) PCIe steps x 2.5 + 1 Ethernet step x 25 + 8.4 base = 48.4 µs
    expect(ag.latencyMs).toBeCloseTo(0.0484, 12);
    expect(t.links.find((e) => e.collective === 'all-reduce' && e.groupSize === 4 && e.nodes === 1)!.busBandwidthGBps).toBeCloseTo(9.6, 12);
  });

  it('answers every consecutive and strided group of the 4 x 8 cluster', () => {
    const lookup = new ProfileLookup(h4);
    for (const g of [2, 4, 8, 16, 32]) {
      for (const nodes of [1, 2, 3, 4]) {
        if (Math.ceil(g / nodes) > 8 || nodes > g) continue;
        for (const c of ['all-reduce', 'all-gather', 'reduce-scatter'] as const) {
          expect(lookup.collectiveMs(c, 1e8, g, nodes)).toBeGreaterThan(0);
        }
      }
    }
  });

  it('local-cpu uses Gloo latency and the shared-memory link', () => {
    const p = deriveSpecProfile(model('fp32'), loadCluster('local-cpu'), { microBatches: [1, 2], tpDegrees: [1, 2] }, { date: DATE });
    const ar = p.links.find((e) => e.collective === 'all-reduce' && e.groupSize === 2)!;
    expect(ar.busBandwidthGBps).toBeCloseTo(2 * 0.8, 12);
    expect(ar.latencyMs).toBeCloseTo((50 + 2 * 20) / 1000, 12);
    expect(p.device.reservedBytes).toBe(Math.min(0.5 * 2 ** 30, Math.round(0.5 * p.device.capacityBytes)));
    expect(parseProfile(JSON.parse(JSON.stringify(p)), 'cpu.json')).toEqual(p);
  });
});
