// Import of Galvatron's published files (fixtures/, copied from PKU-DAIR/Hetu-Galvatron; fixtures/SOURCE.md): the profiles
// validate, units are converted as documented, the cluster shape is carried, layer entries carry the
// shapeKeys of the model they describe, and ambiguous input is one clear error.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { layerShapeKey } from '../../configs/model-derive.ts';
import { layerParametersPerTpRank } from '../../configs/model-tp.ts';
import { parseProfile } from '../profile-io.ts';
import type { Profile } from '../profile.ts';
import { importGalvatron, repairForwardTimes } from './import.ts';

const F = fileURLToPath(new URL('./fixtures/', import.meta.url));
const MiB = 2 ** 20;

/** Through JSON and the validating parser, as `uniap plan --profile` reads it. */
const valid = (p: Profile) => parseProfile(JSON.parse(JSON.stringify(p)), 'imported.json');

function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isUniapError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

describe('import-galvatron: Llama 7B on the 2 x 8 A100 hardware files', () => {
  const r = importGalvatron(F, { tag: 'llama/' });
  const p = valid(r.profile);
  const block = r.model.layers.find((l) => l.type === 'decoder')!;
  const at = (mb: number, tp: number) => p.layers.find((e) => e.shapeKey === layerShapeKey(block) && e.microBatch === mb && e.tp === tp)!;

  it('carries the cluster and device the files describe', () => {
    expect(p.provenance.kind).toBe('imported');
    expect(p.cluster).toEqual({ name: 'galvatron-2x8', nodes: 2, devicesPerNode: 8 });
    expect(p.device.name).toBe('A100-40GB-SXM');
    expect(p.device.capacityBytes).toBe(40 * 2 ** 30);
    expect(p.overlapSlowdown).toBeCloseTo(1.125552573612729 - 1, 9);
  });

  it('builds the model from meta_configs and keys the entries by its layer shapes', () => {
    expect(r.model.name).toBe('llama-7b');
    expect(r.modelConfig?.seqLength).toBe(2048);
    expect(block.ffnSize).toBe(11008);
    expect(new Set(p.layers.map((e) => e.shapeKey))).toEqual(new Set(r.model.layers.map(layerShapeKey)));
  });

  it('converts forward ms per sample to per micro-batch, per TP degree, backward 2x', () => {
    // layertype_0 = 4.6434352238972965 ms per sample (computation_profiling_bf16_hidden4096_head32_seqlen2048.json).
    expect(at(1, 1).forwardMs).toBeCloseTo(4.6434352238972965, 9);
    expect(at(4, 2).forwardMs).toBeCloseTo((4 * 4.6434352238972965) / 2, 9);
    expect(at(4, 2).backwardMs).toBeCloseTo(2 * at(4, 2).forwardMs, 9);
    expect(at(1, 1).tpCommunication).toBe('excluded');
    expect([...new Set(p.layers.map((e) => e.tp))].sort()).toEqual([1, 2, 4, 8]);
  });

  it('converts activation MiB per sample to bytes per micro-batch; parameters from the spec', () => {
    // tp_activation_per_bsz_dict: {"1": 301.28173828125, "2": 182.156494140625, ...}
    expect(at(2, 1).activationBytes).toBe(Math.round(2 * 301.28173828125 * MiB));
    expect(at(1, 2).activationBytes).toBe(Math.round(182.156494140625 * MiB));
    expect(at(1, 2).parameterBytes).toBe(Math.round(layerParametersPerTpRank(block, 2) * 2));
  });

  it('maps adjacent groups inside a node and strided groups across nodes; p2p both ways', () => {
    const ar = (g: number, nodes: number) => p.links.find((l) => l.collective === 'all-reduce' && l.groupSize === g && l.nodes === nodes);
    expect(ar(8, 1)?.busBandwidthGBps).toBe(155.658);
    expect(ar(2, 2)?.busBandwidthGBps).toBe(8.13007);
    expect(ar(16, 2)?.busBandwidthGBps).toBe(44.682);
    expect(ar(8, 1)!.latencyMs).toBeGreaterThan(0); // from sp_time
    expect(p.links.find((l) => l.collective === 'reduce-scatter' && l.groupSize === 8 && l.nodes === 1)?.busBandwidthGBps).toBe(155.658);
    expect(p.links.find((l) => l.collective === 'p2p' && l.nodes === 1)?.busBandwidthGBps).toBe(109.45);
    expect(p.links.find((l) => l.collective === 'p2p' && l.nodes === 2)?.busBandwidthGBps).toBe(7.65998);
  });
});

describe('import-galvatron: other formats', () => {
  it('T5-3B: two layer types (encoder, cross-decoder), times by batch size, embedding + head time on the head', () => {
    const r = importGalvatron(F, { tag: 'T5', clusterShape: '1x8' });
    const p = valid(r.profile);
    expect(p.cluster).toEqual({ name: 'galvatron-1x8', nodes: 1, devicesPerNode: 8 });
    const enc = r.model.layers.find((l) => l.type === 'encoder')!;
    const dec = r.model.layers.find((l) => l.type === 'cross-decoder')!;
    const head = r.model.layers.find((l) => l.type === 'head')!;
    const e = (l: typeof enc, mb: number) => p.layers.find((x) => x.shapeKey === layerShapeKey(l) && x.microBatch === mb && x.tp === 1)!;
    // layertype_0_bsz3_seq512 = 0.49786717096964556 ms per sample; layertype_1_bsz8_seq512 = 0.6277944445610044.
    expect(e(enc, 3).forwardMs).toBeCloseTo(3 * 0.49786717096964556, 9);
    expect(e(dec, 8).forwardMs).toBeCloseTo(8 * 0.6277944445610044, 9);
    // Beyond the measured batch sizes: the largest one's per-sample time.
    expect(e(dec, 32).forwardMs).toBeCloseTo(32 * 0.6277944445610044, 9);
    expect(e(head, 2).forwardMs).toBeCloseTo(2 * 1.6997104644775414, 9);
    expect(p.links.every((l) => l.nodes === 1)).toBe(true);
  });

  it('oldest format: whole-model runs give the embedding + head time (ViT-Huge, GPT-1.5B)', () => {
    const vit = importGalvatron(F, { tag: 'vit_hf/bf16_hidden1280' });
    valid(vit.profile);
    expect(vit.model.family).toBe('vision');
    const gpt = importGalvatron(F, { tag: 'hidden1600' });
    const head = gpt.model.layers.find((l) => l.type === 'head')!;
    const h = gpt.profile.layers.find((e) => e.shapeKey === layerShapeKey(head) && e.microBatch === 4 && e.tp === 1)!;
    // layernum[12]_bsz4 = 41.484313583374025 ms, layertype_0 = 0.5981169303258261 ms per sample.
    expect(h.forwardMs).toBeCloseTo(4 * (41.484313583374025 / 4 - 12 * 0.5981169303258261), 9);
    expect(gpt.profile.provenance.notes!.some((n) => n.includes('derived as whole-model time'))).toBe(true);
  });

  it('--model names the model of files without meta_configs (the Qwen-shaped fixture) and reports a parameter mismatch', () => {
    const qwen = loadModel('qwen2.5-7b');
    const r = importGalvatron(path.join(F, 'tests_fixture'), { model: qwen, tag: 'static_mode' });
    const p = valid(r.profile);
    expect(r.modelConfig).toBeUndefined();
    expect(p.cluster).toEqual({ name: 'galvatron-1x8', nodes: 1, devicesPerNode: 8 });
    expect(new Set(p.layers.map((e) => e.shapeKey))).toEqual(new Set(qwen.layers.map(layerShapeKey)));
    expect(p.overlapSlowdown).toBeCloseTo(0.1534195950157762, 9);
    expect(p.provenance.notes!.some((n) => n.includes("parameter_size 772.1 MiB"))).toBe(true);
  });

  it('a sequence sweep without processed memory takes the requested length and the formula for activations', () => {
    const r = importGalvatron(F, { tag: 'gpt_hf/bf16_hidden4096_head32', seqLength: 8192 });
    valid(r.profile);
    expect(r.model.layers.find((l) => l.type === 'decoder')!.seqLength).toBe(8192);
    expect(r.profile.provenance.notes!.some((n) => n.includes('Korthikanti'))).toBe(true);
  });
});

describe('import-galvatron: repairs and errors', () => {
  it('replaces non-positive per-layer times by the median of the positive ones and reports each', () => {
    const notes: string[] = [];
    const out = repairForwardTimes('layertype_0', new Map([[1, 0.5], [2, -0.12], [3, 0.4], [4, 0.3]]), notes, true);
    expect(out.get(2)).toBeCloseTo(0.4);
    expect(notes[0]).toMatch(/layertype_0: 1 non-positive .*bsz 2: -0.120 ms.*replaced by 0.400 ms/);
  });

  it('several datasets and no --tag: one error listing them', () => {
    const err = errorOf(() => importGalvatron(F));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/choose one with --tag \(one of: .*models\/llama\/bf16_hidden4096_head32_seqlen2048/);
  });

  it('a model of another hidden size, and a folder without hardware files, are refused with the fix', () => {
    expect(errorOf(() => importGalvatron(F, { tag: 'llama/', model: loadModel('tiny-gpt') })).message).toMatch(/hidden size 4096 but model tiny-gpt has 128/);
    expect(errorOf(() => importGalvatron(path.join(F, 'models', 'llama'))).message).toMatch(/no allreduce_bandwidth_.*--hardware DIR/);
    expect(errorOf(() => importGalvatron(path.join(F, 'nope'))).code).toBe('FILE_NOT_FOUND');
  });
});
