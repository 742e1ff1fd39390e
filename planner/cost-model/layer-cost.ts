// A[u][k] and M[u][k] of UniAP (arXiv 2307.16375, sec. 3.2): the time per micro-batch and the memory
// of one layer under one intra-layer strategy, from a Profile.
//
// What overlaps with compute, and what does not:
// - Tensor-parallel all-reduces (Megatron-LM, Shoeybi et al. 2019: 2 forward + 2 backward per block)
//   sit on the critical path: fully exposed.
// - FSDP all-gathers (forward and backward) and the gradient reduce-scatter run every micro-batch
//   (ZeRO-3, Rajbhandari et al. 2020) and are prefetched one layer ahead, so only the part longer than
//   the layer's own compute is exposed: max(0, AG - fwd) + max(0, AG + RS - bwd).
// - The data-parallel gradient all-reduce runs once per iteration, launched when the layer's last
//   backward finishes and overlapping the backward of the layers before it (PyTorch DDP bucketing,
//   Li et al. 2020); exposed part max(0, AR - bwd), charged as 1/c per micro-batch (UniAP folds a
//   layer's share of gradient synchronization into A[u][k]).
// - ZeRO-1 (optimizer states sharded; Megatron-LM's distributed optimizer, Rajbhandari et al. 2020
//   sec. 5.1): once per iteration the fp32 gradients are reduce-scattered, launched as the layer's
//   backward of the last micro-batch ends (exposed max(0, RS - bwd) as for the all-reduce), and after
//   the optimizer step each rank's updated shard is all-gathered in the weights' dtype (exposed: the
//   executor gathers before the next iteration starts). ZeRO-2 (gradients sharded too, sec. 5.2)
//   reduce-scatters every micro-batch's gradient as its backward ends (exposed max(0, RS - bwd) per
//   micro-batch) and all-gathers the weights once per iteration like ZeRO-1.
// - Sequence parallelism (Korthikanti et al. 2022, sec. 4.2.2) turns each tp all-reduce into a
//   reduce-scatter + all-gather of the same bytes (each with its own latency), and splits the
//   activations tp replicates over the group (configs/model-derive.ts layerActivationBytes): the
//   profile's kept bytes are scaled by the formula's ratio with and without it. The norms and residual
//   adds it splits are not taken off the profile's compute (a small share; the profile measures them
//   unsplit). Gathering the sequence where a neighbour is not sequence-split is a boundary cost
//   (build.ts). Full recomputation with sp keeps the input's 1/tp slice.
// - Selective recomputation (sec. 5) runs the attention core forward again in backward: the
//   forward's time times the core's share of the layer's forward FLOPs; its s x S tensors are not kept.
// - Overlapped communication slows the compute it overlaps by Profile.overlapSlowdown (measured).
// - Gradients travel in fp32 in 16-bit training (Megatron-LM --bf16 reduces its fp32 main grads;
//   the executor and FSDP2 with reduce_dtype fp32 do too): 4 bytes per parameter (configs/model-state.ts).
// - The optimizer step (AdamW, Loshchilov & Hutter 2019) is elementwise over the states this device
//   keeps, at memory bandwidth: OPTIMIZER_BYTES_PER_PARAMETER per parameter per iteration, charged
//   as 1/c per micro-batch like the gradient all-reduce.
import type { LayerSpec } from '../../configs/model-spec.ts';
import type { Strategy } from '../strategy.ts';
import type { LayerCost } from './tables.ts';
import type { ProfileLookup } from '../../profiler/profile-lookup.ts';
import {
  dtypeBytes,
  layerActivationBytes,
  layerAttentionCoreFlopsPerSample,
  layerForwardFlopsPerSample,
  layerInputBytes,
  layerIsCausal,
  layerShapeKey,
  type ActivationOptions,
} from '../../configs/model-derive.ts';
import { layerTpCollectives } from '../../configs/model-tp.ts';
import { modelStateBytes, type ModelStateBytes } from './memory.ts';
import { stateBytesPerParameter } from '../../configs/model-state.ts';
import { cpCommOf, cpDegree, gradDp, zeroStage } from '../strategy.ts';

/**
 * Bytes AdamW moves per parameter and step: reads and writes the fp32 master weight, m and v (24),
 * reads the fp32 gradient (4); 16-bit training also casts the master to its 16-bit copy (reads 4,
 * writes 2). fp32: 28; 16-bit: 34.
 */
export function optimizerBytesPerParameter(dtype: LayerSpec['dtype']): number {
  return dtype === 'fp32' ? 28 : 34;
}

/** Where the strategy's groups land: nodes spanned by its TP group, its gradient (dp x cp) group and its CP group. */
export interface GroupPlacement {
  tpNodes: number;
  dpNodes: number;
  cpNodes: number;
}

export interface DetailedLayerCost extends LayerCost {
  state: ModelStateBytes;
  forwardMs: number;
  backwardMs: number;
}

/** What the cost of every layer shares: the profile's device-wide facts. */
export interface LayerCostEnv {
  /** Profile.overlapSlowdown. */
  overlapSlowdown: number;
  /** Effective memory bandwidth for the optimizer step, bytes per ms; 0 leaves the step out. */
  optimizerBytesPerMs: number;
  /** The profile's attention keeps no s x S tensors (Profile.attention 'flash'). */
  flashAttention: boolean;
  /** How the target runs an all-to-all (Profile.allToAll): natively, or as an all-gather of every rank's buffer (Gloo). */
  allToAll: 'native' | 'all-gather';
}

/** The attention core's share of the layer's forward FLOPs (scores, softmax, attention x V). */
function coreFraction(layer: LayerSpec): number {
  const flops = layerForwardFlopsPerSample(layer);
  return flops > 0 ? layerAttentionCoreFlopsPerSample(layer) / flops : 0;
}

/** Bytes of this rank's q (and attention output) and of its k (and v) under cp: what Ulysses all-to-alls and the ring passes. */
function attentionBytes(layer: LayerSpec, m: number, tp: number, cp: number): { q: number; kv: number } {
  const tokens = (m * layer.seqLength) / cp;
  const w = dtypeBytes(layer.dtype);
  const d = layer.headDim || layer.hiddenSize / layer.heads;
  return { q: (tokens * (layer.heads / tp) * d * w), kv: tokens * ((layer.kvHeads || layer.heads) / tp) * d * w };
}

export function layerCost(
  layer: LayerSpec,
  s: Strategy,
  microBatchSize: number,
  microBatches: number,
  lookup: ProfileLookup,
  groups: GroupPlacement,
  env: LayerCostEnv,
): DetailedLayerCost {
  const m = microBatchSize / s.dp; // samples per device per micro-batch
  const cp = cpDegree(s);
  const D = gradDp(s); // ranks holding the same parameters: the gradient sync and ZeRO/FSDP group
  // Under context parallelism a rank computes its rows' layer on s/cp tokens (attention: 1/cp of the
  // heads over the whole sequence, the same FLOPs and bytes): the GEMM shapes, kept activations and
  // working set of m/cp samples, so the profile is read there (interpolated or extrapolated in m below
  // one sample, profiler/profile-lookup.ts), exactly as for dp x cp data parallelism.
  const e = lookup.layer(layerShapeKey(layer), m / cp, s.tp);
  const fwd = e.forwardMs;
  const bwd = e.backwardMs;
  const sp = !!s.sp && s.tp > 1;
  const selective = !!s.selectiveRecompute && !s.recompute;
  // Recomputation runs the forward again during backward (Chen et al. 2016; Korthikanti et al. 2022);
  // selective recomputation only the attention core.
  let computeMs = fwd + bwd + (s.recompute ? fwd : 0) + (selective ? coreFraction(layer) : 0) * fwd;

  // Tensor-parallel all-reduces of the layer's output activations (Megatron-LM sec. 3); with sequence
  // parallelism a reduce-scatter and an all-gather each.
  let tpCommMs = 0;
  let overlapRing = 0; // ring attention's forward exchanges hidden behind its blocks
  if (s.tp > 1 && e.tpCommunication === 'excluded') {
    const coll = layerTpCollectives(layer);
    const bytes = (coll.bytesPerSample * m) / cp;
    const arMs = sp
      ? lookup.collectiveMs('reduce-scatter', bytes, s.tp, groups.tpNodes) + lookup.collectiveMs('all-gather', bytes, s.tp, groups.tpNodes)
      : lookup.collectiveMs('all-reduce', bytes, s.tp, groups.tpNodes);
    const forwards = s.recompute ? 2 : 1;
    tpCommMs = (coll.forwardAllReduces * forwards + coll.backwardAllReduces) * arMs;
  }
  const passes = s.recompute ? 3 : 2; // forward, backward, and a recomputed forward
  if (cp > 1 && cpCommOf(s) === 'a2a') {
    // Ulysses: q, k, v to head-split and the attention output back, every forward and backward.
    const a2a = (bytes: number) => lookup.collectiveMs('all-gather', env.allToAll === 'all-gather' ? cp * bytes : bytes, cp, groups.cpNodes);
    const x = attentionBytes(layer, m, s.tp, cp);
    tpCommMs += passes * (2 * a2a(x.q) + 2 * a2a(x.kv));
  } else if (cp > 1) {
    // Ring attention: cp - 1 steps pass this rank's K and V block to the next rank. In a forward each
    // step is in flight while a block is computed (1/cp of the attention core), so only the excess is
    // exposed; the backward passes the blocks' gradients back one blocking step at a time
    // (python/uniap_torch/layers.py _ring_attention, _RingLink).
    const x = attentionBytes(layer, m, s.tp, cp);
    // Causal and fused: every rank of Ulysses (and the profile) computes half of the s x S scores
    // (the core's share of the time is about half its FLOPs share), but the ring's last rank computes
    // cp - 1 whole blocks and half of one, (2cp - 1)/cp times the mean, and the stage waits for it
    // (no zigzag split; the unfused path computes whole blocks on both, so it is balanced there).
    if (env.flashAttention && layerIsCausal(layer)) computeMs += (((s.recompute ? 2 : 1) * fwd + bwd) * (coreFraction(layer) / 2) * (cp - 1)) / cp;
    // neighbours of the ring: on another node when the cp group spans nodes
    const step = lookup.collectiveMs('p2p', 2 * x.kv, 2, Math.min(2, groups.cpNodes));
    const core = coreFraction(layer) * fwd;
    const forwardExposed = (cp - 1) * Math.max(0, step - core / cp);
    tpCommMs += (passes - 1) * forwardExposed + (cp - 1) * step;
    overlapRing = (passes - 1) * (cp - 1) * step - (passes - 1) * forwardExposed;
  }

  // Parameters on this device after the TP split, and their bytes in the training dtype.
  const paramBytes = e.parameterBytes;
  const params = paramBytes / dtypeBytes(layer.dtype);
  const perParam = stateBytesPerParameter(layer.dtype);
  const gradBytes = params * perParam.gradient;
  const zero = zeroStage(s);
  let fsdpExposedMs = 0;
  let gradSyncExposedMs = 0;
  let overlappedCommMs = 0;
  if (D > 1 && paramBytes > 0) {
    if (s.fsdp) {
      // ZeRO-3: all-gather the full (TP-local) parameters before forward and before backward,
      // reduce-scatter the gradients after backward, every micro-batch.
      const ag = lookup.collectiveMs('all-gather', paramBytes, D, groups.dpNodes);
      const rs = lookup.collectiveMs('reduce-scatter', gradBytes, D, groups.dpNodes);
      const exposedFwd = Math.max(0, ag - fwd);
      const exposedBwd = Math.max(0, ag + rs - bwd);
      fsdpExposedMs = exposedFwd + exposedBwd;
      overlappedCommMs = 2 * ag + rs - fsdpExposedMs;
    } else if (zero === 1 || zero === 2) {
      const rs = lookup.collectiveMs('reduce-scatter', gradBytes, D, groups.dpNodes);
      const ag = lookup.collectiveMs('all-gather', params * perParam.weight, D, groups.dpNodes);
      // ZeRO-1: one reduce-scatter per iteration; ZeRO-2: one per micro-batch. Both: one all-gather
      // per iteration, exposed. Per-iteration terms are charged 1/c per micro-batch.
      const rsExposed = Math.max(0, rs - bwd);
      const rsPerMicroBatch = zero === 2 ? rsExposed : rsExposed / microBatches;
      gradSyncExposedMs = rsPerMicroBatch + ag / microBatches;
      overlappedCommMs = (zero === 2 ? rs - rsExposed : (rs - rsExposed) / microBatches);
    } else {
      // One gradient all-reduce per iteration (nccl-tests bus bandwidth: 2(n-1)/n factor in lookup).
      const ar = lookup.collectiveMs('all-reduce', gradBytes, D, groups.dpNodes);
      const exposed = Math.max(0, ar - bwd);
      gradSyncExposedMs = exposed / microBatches;
      overlappedCommMs = (ar - exposed) / microBatches;
    }
  }
  overlappedCommMs += overlapRing;
  computeMs += env.overlapSlowdown * overlappedCommMs;
  const optimizerParams = zero >= 1 && D > 1 ? params / D : params;
  const optimizerMs =
    env.optimizerBytesPerMs > 0 ? (optimizerParams * optimizerBytesPerParameter(layer.dtype)) / env.optimizerBytesPerMs / microBatches : 0;
  computeMs += optimizerMs;

  const state = modelStateBytes(params, layer.dtype, D > 1 ? zero : 0, D);
  // Full recomputation keeps only the layer input (Korthikanti et al. 2022, sec. 4.1: 2sbh in 16-bit;
  // with sp its 1/tp slice, sec. 5). Otherwise the profile's bytes, scaled by the formula's ratio
  // where sp or selective recomputation drop terms the profile kept.
  const keptBytes = sp || selective ? e.activationBytes * activationRatio(layer, m, s.tp, env.flashAttention, sp, selective) : e.activationBytes;
  const activationBytes = s.recompute ? layerInputBytes(layer, m) / (sp ? s.tp : 1) / cp : keptBytes;
  // Transient peak: the profile's working set; recomputation materializes the layer's activations
  // again during its backward; FSDP holds the gathered parameters of this layer and the prefetched next;
  // ZeRO-1/2 hold the all-gathered weights before they are copied in, ZeRO-2 one micro-batch's full
  // fp32 gradient before its reduce-scatter, and in 16-bit training both hold the 16-bit gradient
  // autograd produces before it is added to the fp32 one.
  const sixteenBit = perParam.weight < 4;
  const zeroWorkspace =
    D > 1 && (zero === 1 || zero === 2)
      ? params * perParam.weight + (zero === 2 ? gradBytes : 0) + (sixteenBit ? params * perParam.weight : 0)
      : 0;
  const workspaceBytes =
    e.workingSetBytes + (s.recompute ? keptBytes : 0) + (s.fsdp && D > 1 ? 2 * paramBytes : 0) + zeroWorkspace;

  const breakdown = { computeMs, tpCommMs, fsdpExposedMs, gradSyncExposedMs, overlappedCommMs };
  const timeMs = computeMs + tpCommMs + fsdpExposedMs + gradSyncExposedMs;
  return { timeMs, breakdown, stateBytes: state.totalBytes, activationBytes, workspaceBytes, state, forwardMs: fwd, backwardMs: bwd };
}

/** layerActivationBytes with sp / selective recomputation over without, for the profile's attention. */
function activationRatio(layer: LayerSpec, m: number, tp: number, flashAttention: boolean, sp: boolean, selective: boolean): number {
  const base: ActivationOptions = { flashAttention };
  const full = layerActivationBytes(layer, m, tp, base);
  if (full <= 0) return 1;
  return layerActivationBytes(layer, m, tp, { ...base, sequenceParallel: sp, selectiveRecompute: selective }) / full;
}
