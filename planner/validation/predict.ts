// What the cost model predicts for one measured run: its model, its cluster and its Megatron-style
// uniform configuration (every layer with the run's tp and dp, an even pipeline split with embeddings
// on the first stage and the head on the last, 1F1B, global batch / (micro-batch x dp) micro-batches),
// evaluated exactly as the planner evaluates a placement.
import { resolveCluster } from '../../configs/cluster-resolve.ts';
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { loadCluster } from '../../configs/cluster-presets.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { resolveModel } from '../../configs/model-resolve.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { UniapError } from '../../common/errors.ts';
import type { Profile } from '../../profiler/profile.ts';
import { applyCalibration, type CalibrationFactors } from '../../profiler/calibration.ts';
import { deriveSpecProfile, type SpecProfileOptions } from '../../profiler/spec-profile.ts';
import { evenSplit } from '../baselines/even-split.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import type { MeasuredRun, ModelShape } from './runs.ts';
import { zeroStage } from '../strategy.ts';

/**
 * Node links of a typical node of each device type when a row names only the GPU: the vendor's
 * reference system (NVIDIA DGX A100 / DGX H100 / DGX H200 datasheets: NVSwitch with 300 / 450 / 450
 * GB/s per GPU per direction; 8 HDR 200 Gb/s or 8 NDR 400 Gb/s ConnectX NICs per node = 200 / 400 GB/s
 * per node per direction; DGX-1 V100: NVLink2 hybrid cube mesh, 150 GB/s, 4 EDR 100 Gb/s = 50 GB/s).
 */
export const REFERENCE_NODES: Record<string, { intra: { kind: 'nvswitch' | 'nvlink'; bandwidthGBps: number }; interGBps: number }> = {
  'A100-40GB-SXM': { intra: { kind: 'nvswitch', bandwidthGBps: 300 }, interGBps: 200 },
  'A100-80GB-SXM': { intra: { kind: 'nvswitch', bandwidthGBps: 300 }, interGBps: 200 },
  'H100-SXM': { intra: { kind: 'nvswitch', bandwidthGBps: 450 }, interGBps: 400 },
  'H200-SXM': { intra: { kind: 'nvswitch', bandwidthGBps: 450 }, interGBps: 400 },
  'V100-16GB-SXM2': { intra: { kind: 'nvlink', bandwidthGBps: 150 }, interGBps: 50 },
  'V100-32GB-SXM2': { intra: { kind: 'nvlink', bandwidthGBps: 150 }, interGBps: 50 },
};

/** The cluster of a run: its named cluster, or `gpus` devices of type `gpu` on reference nodes. */
export function clusterOfRun(run: MeasuredRun): ClusterSpec {
  if (run.cluster) return loadCluster(run.cluster);
  const gpu = run.gpu!;
  const ref = REFERENCE_NODES[gpu];
  if (!ref) {
    throw new UniapError('CONFIG_INVALID', `${run.where}: gpu "${gpu}" has no reference node; use one of ${Object.keys(REFERENCE_NODES).join(', ')}, or give a cluster file in the cluster column`);
  }
  const perNode = Math.min(run.gpus, run.gpusPerNode);
  const nodes = run.gpus / perNode;
  return resolveCluster(
    {
      schemaVersion: 1,
      name: `${nodes}x${perNode}-${gpu}`,
      nodes: [{ count: nodes, deviceType: gpu, devices: perNode, intraNodeLink: { ...ref.intra, latencyUs: 1.9 } }],
      ...(nodes > 1 ? { interNodeLink: { kind: 'infiniband', bandwidthGBps: ref.interGBps, latencyUs: 4.0 } } : {}),
    },
    run.where,
  );
}

/**
 * A decoder-only model of the given shape. The vocabulary is padded to a multiple of 128 x tp, as
 * Megatron-LM pads it (--make-vocab-size-divisible-by 128, times the tensor-parallel size).
 */
export function modelOfShape(name: string, shape: ModelShape, tp: number): ModelSpec {
  const unit = 128 * tp;
  const vocab = Math.ceil(shape.vocab / unit) * unit;
  const llama = shape.arch === 'llama';
  return resolveModel(
    {
      schemaVersion: 1,
      name,
      family: 'decoder-only',
      dtype: 'bf16',
      hiddenSize: shape.hidden,
      ffnSize: shape.ffn,
      activation: llama ? 'swiglu' : 'gelu',
      heads: shape.heads,
      ...(shape.kvHeads !== shape.heads ? { kvHeads: shape.kvHeads } : {}),
      seqLength: shape.seqLength,
      vocabSize: vocab,
      norm: llama ? 'rmsnorm' : 'layernorm',
      bias: !llama,
      blocks: [
        { type: 'embedding', positionEmbedding: llama ? 'rope' : 'learned' },
        { type: 'decoder', count: shape.layers },
        { type: 'head', ...(llama ? {} : { tiedEmbedding: true, bias: false }) },
      ],
    },
    `measured run ${name}`,
  );
}

export function modelOfRun(run: MeasuredRun): ModelSpec {
  if (run.shape) return modelOfShape(run.model, run.shape, run.tp);
  return loadModel(run.model);
}

export interface RunPrediction {
  timeMs: number;
  /** Largest stage memory per device, bytes. */
  memoryBytes: number;
  /** Usable memory per device the verdict was judged against. */
  usableBytes: number;
  fits: boolean;
}

export interface PredictOptions {
  /** Datasheet-profile factors (a calibration or a fit replaces the defaults). */
  spec?: SpecProfileOptions;
  /** A measured profile instead of the datasheet one. */
  profile?: Profile;
  /** Calibration factors applied to whichever profile predicts (fitted on other runs: fit.ts). */
  factors?: CalibrationFactors;
}

/** The cost model's time per iteration and memory for the run's uniform configuration. */
export function predictRun(run: MeasuredRun, opts: PredictOptions = {}, cache = new Map<string, { model: ModelSpec; cluster: ClusterSpec }>()): RunPrediction {
  const key = `${run.model}|${JSON.stringify(run.shape)}|${run.tp}|${run.cluster ?? run.gpu}|${run.gpus}|${run.gpusPerNode}`;
  let mc = cache.get(key);
  if (!mc) {
    mc = { model: modelOfRun(run), cluster: clusterOfRun(run) };
    cache.set(key, mc);
  }
  const { model, cluster } = mc;
  const microBatches = run.globalBatch / (run.microBatch * run.dp);
  const perNode = cluster.nodes[0]!.devices;
  const options = {
    maxTp: run.tp,
    allowCrossNodeTp: run.tp > perNode,
    allowFsdp: run.zeroStage === 3,
    allowZero: run.zeroStage === 1 || run.zeroStage === 2,
    allowRecompute: run.recompute === 'full',
  };
  // Only the one micro-batch size and tp degree this run uses need a profile.
  const raw =
    opts.profile ??
    deriveSpecProfile(model, cluster, { microBatches: [run.microBatch], tpDegrees: [run.tp] }, { ...opts.spec, sequenceParallel: run.sequenceParallel, flashAttention: true });
  const profile = opts.factors ? applyCalibration(raw, { ...opts.factors, reservedBytes: raw.device.reservedBytes }) : raw;
  const input = prepareCostModel(model, cluster, { globalBatch: run.globalBatch, profile, options });
  const tables = buildCostTables(input, { stages: run.pp, microBatches, schedule: '1f1b' });
  const zero = run.dp > 1 ? run.zeroStage : 0;
  const k = tables.strategies.findIndex((s) => s.dp === run.dp && s.tp === run.tp && zeroStage(s) === zero && s.recompute === (run.recompute === 'full'));
  if (k < 0 || !tables.allowed.every((row) => row[k])) {
    throw new UniapError('CONFIG_INVALID', `${run.where}: dp ${run.dp} x tp ${run.tp} is not a valid strategy for every layer of ${model.name}; check tp against the heads and FFN size`);
  }
  const ev = evaluatePlacement(tables, { stageStart: evenSplit(model, run.pp), strategy: new Array<number>(tables.layers).fill(k) });
  const memoryBytes = Math.max(...ev.memoryPerStageBytes);
  return { timeMs: ev.timePerIterationMs, memoryBytes, usableBytes: tables.memoryBudgetBytes, fits: memoryBytes <= tables.memoryBudgetBytes };
}
