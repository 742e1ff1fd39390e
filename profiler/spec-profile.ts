// The "spec" profile: a Profile derived from datasheet numbers alone, so planning works with no
// hardware. Layer times by a roofline over the device's peak FLOPS and memory bandwidth (with the
// efficiency factors below); collectives by the nccl-tests bus-bandwidth model over the cluster's
// links; memory capacity from the device. Every factor is documented here and recorded in the
// profile's provenance notes.
import type { ClusterSpec, LinkSpec } from '../configs/cluster-spec.ts';
import { isHomogeneous } from '../configs/cluster-spec.ts';
import { UniapError } from '../common/errors.ts';
import { dtypeBytes, layerActivationBytes, layerForwardFlopsPerSample, layerOutputBytes, layerStoredParameters, layerShapeKey } from '../configs/model-derive.ts';
import { layerParametersPerTpRank, tpDivides, tpSplitsCompute } from '../configs/model-tp.ts';
import type { LayerSpec, ModelSpec } from '../configs/model-spec.ts';
import { layerTimesMs, type OpFactors } from './op-model.ts';
import {
  COLLECTIVES,
  type Collective,
  type LayerProfileEntry,
  type LinkProfileEntry,
  type Profile,
  PROFILE_SCHEMA_VERSION,
} from './profile.ts';

export interface SpecProfileRequest {
  /** Per-device micro-batch sizes (samples) to tabulate. */
  microBatches: number[];
  /** Tensor-parallel degrees to tabulate (those that do not divide a layer are skipped for it). */
  tpDegrees: number[];
}

export interface SpecProfileOptions {
  /** Large-GEMM efficiency, fraction of peak (default: gemmEfficiency(device)). */
  computeEfficiency?: number;
  /** Half-efficiency GEMM dimension (default GEMM_HALF_DIM). */
  gemmHalfDim?: number;
  /** FlashAttention forward efficiency (default attentionEfficiency(device)). */
  attentionEfficiency?: number;
  /** Shortest kernel, µs (default LAUNCH_FLOOR_US). */
  launchFloorUs?: number;
  /** Dropout kernels after attention and MLP (default: LayerNorm models, the GPT/BERT family, have them; RMSNorm/Llama-style do not). */
  dropout?: boolean;
  /** Fraction of peak memory bandwidth reached (default: MEMORY_EFFICIENCY by device kind). */
  memoryEfficiency?: number;
  /** Bus bandwidth / link bandwidth inside a node (default: intraNodeBusEfficiency(link)). */
  intraNodeBusEfficiency?: number;
  /** Bus bandwidth / NIC bandwidth across nodes (default: interNodeBusEfficiency(link)). */
  interNodeBusEfficiency?: number;
  /** Passed to layerActivationBytes (Korthikanti et al. 2022 variants). */
  sequenceParallel?: boolean;
  flashAttention?: boolean;
  /** Provenance date (default: now). */
  date?: Date;
}

/**
 * Large-GEMM efficiency (achieved / peak) per device: the Maximum Achievable Matmul FLOPS of bf16
 * GEMMs (stas00/ml-engineering, compute/accelerator/README.md, MAMF table: A100 SXM 267.9 of 312 TFLOPS
 * = 0.859; H100 SXM 792.1 of 989 = 0.801, used for H200 too, same tensor cores). V100 and TITAN Xp:
 * 0.8, an estimate (no published MAMF). CPU: 0.3, an estimate for PyTorch on OpenBLAS with the small
 * matrices of CPU-sized models (SGEMM reaches ~70-80% only on large matrices). Smaller GEMMs lose more
 * (profiler/op-model.ts). The cost model adds exposed communication and pipeline bubbles separately,
 * which is why training-run MFU (38-55%) sits well below these.
 */
export function gemmEfficiency(device: { name: string; kind: 'gpu' | 'cpu' }): number {
  if (device.kind === 'cpu') return 0.3;
  if (/A100/i.test(device.name)) return 0.859;
  if (/H100|H200|GH200/i.test(device.name)) return 0.801;
  return 0.8;
}

/** FlashAttention forward efficiency of peak (profiler/op-model.ts cites the sources): A100 0.6, Hopper 0.55; CPU 0.3. */
export function attentionEfficiency(device: { name: string; kind: 'gpu' | 'cpu' }): number {
  if (device.kind === 'cpu') return 0.3;
  if (/H100|H200|GH200/i.test(device.name)) return 0.55;
  return 0.6;
}

/**
 * Half-efficiency GEMM dimension (profiler/op-model.ts): 64 on GPUs (tensor-core tiles are 64-256
 * wide, Anthony et al. 2024, arXiv 2401.14489) and 8 on CPUs (BLAS micro-kernels are 4-16 wide).
 */
export const GEMM_HALF_DIM = { gpu: 64, cpu: 8 } as const;

/** Shortest kernel, µs: ~4 on a GPU (launch overhead); ~10 for a PyTorch CPU operator (dispatch). */
export const LAUNCH_FLOOR_US = { gpu: 4, cpu: 10 } as const;

/** The single efficiency of the per-layer roofline this profile used before per-operator timing; kept for --compute-efficiency overrides. */
export const COMPUTE_EFFICIENCY = { gpu: 0.6, cpu: 0.3 } as const;

/**
 * Fraction of peak memory bandwidth reached by streaming kernels (STREAM-like copies reach ~80-90%
 * of HBM peak; DDR on a shared host less): 0.8 on GPU, 0.6 on CPU.
 */
export const MEMORY_EFFICIENCY = { gpu: 0.8, cpu: 0.6 } as const;

/**
 * Bus bandwidth reached inside a node as a fraction of the per-device, per-direction link bandwidth,
 * from measured NCCL bus bandwidths: 8xH100 ~370 GB/s on NVLink4 450 -> 0.82 (NCCL's effective NVLink
 * bandwidth after protocol overhead, NVIDIA/nccl-tests issue #212 and NVIDIA/nccl issue #1442);
 * 8xA100 ~200-210 GB/s on NVLink3 300 -> 0.68 (a conservative reading of nccl-tests reports such as
 * NVIDIA/nccl-tests issue #175, 232 GB/s; also used for NVLink2, for
 * which we have no measurement). PCIe: the configured ~12 GB/s is already an effective figure;
 * NCCL's chunked ring pipelining keeps ~0.8 of it (estimate). Shared memory (Gloo loopback): 0.8.
 */
export function intraNodeBusEfficiency(link: LinkSpec): number {
  switch (link.kind) {
    case 'nvswitch':
    case 'nvlink':
      return link.bandwidthGBps >= 450 ? 0.82 : 0.68;
    default:
      return 0.8;
  }
}

/**
 * Bus bandwidth across nodes as a fraction of the NIC bandwidth: nccl-tests all-reduce across 8xA100
 * nodes with 4xHDR (100 GB/s per node) reaches ~85 GB/s on average, 96 GB/s at peak
 * (NVIDIA/nccl-tests issue #119): 0.9 for
 * InfiniBand and RoCE. Ethernet through NCCL's socket transport: 0.8 (estimate).
 */
export function interNodeBusEfficiency(link: LinkSpec): number {
  return link.kind === 'ethernet' ? 0.8 : 0.9;
}

/**
 * Fixed cost per collective call, µs: NCCL's tuning model base latency for ring/Simple is 8.4 µs
 * (NVIDIA/nccl src/graph/tuning.cc, `baseLat`). Gloo: ~50 µs, an estimate for Python dispatch plus
 * a loopback TCP round trip.
 */
export const BASE_LATENCY_US = { nccl: 8.4, gloo: 50 } as const;

/**
 * Memory the training job cannot use. GPU: CUDA context (~0.3-0.5 GiB), NCCL buffers (0.5-1 GB: NCCL_BUFFSIZE,
 * 4 MiB by default, per channel and peer, NCCL environment-variable docs) and allocator fragmentation / temporary buffers: 1 GiB + 5% of capacity.
 * CPU: the Python interpreter and torch libraries resident in each process, ~0.5 GiB. Capped at
 * half the capacity so tiny devices keep something usable.
 */
export function reservedBytes(kind: 'gpu' | 'cpu', capacityBytes: number): number {
  const GIB = 2 ** 30;
  const r = kind === 'gpu' ? GIB + 0.05 * capacityBytes : 0.5 * GIB;
  return Math.round(Math.min(r, 0.5 * capacityBytes));
}

export function deriveSpecProfile(
  model: ModelSpec,
  cluster: ClusterSpec,
  request: SpecProfileRequest,
  options: SpecProfileOptions = {},
): Profile {
  if (!isHomogeneous(cluster)) {
    throw new UniapError(
      'UNSUPPORTED',
      `the spec profile needs a homogeneous cluster but ${cluster.name} mixes node shapes; describe each homogeneous part as its own cluster`,
    );
  }
  const node = cluster.nodes[0]!; // resolveCluster guarantees at least one node
  const dev = node.deviceType;
  const microBatches = checkedSizes(request.microBatches, 'micro-batch size', false);
  const tpDegrees = checkedSizes(request.tpDegrees, 'tensor-parallel degree', true);

  const memoryEff = options.memoryEfficiency ?? MEMORY_EFFICIENCY[dev.kind];
  const sixteenBit = model.dtype === 'fp16' || model.dtype === 'bf16';
  // 16-bit tensor peak when the model trains in 16 bits and the device has one; else FP32 peak.
  const peakTflops = sixteenBit && dev.peakTflops16 > 0 ? dev.peakTflops16 : dev.peakTflops32;
  const gemmEff = options.computeEfficiency ?? gemmEfficiency(dev);
  const factors: OpFactors = {
    peakTflops,
    gemmEfficiency: gemmEff,
    gemmHalfDim: options.gemmHalfDim ?? GEMM_HALF_DIM[dev.kind],
    attentionEfficiency: options.attentionEfficiency ?? attentionEfficiency(dev),
    memoryBandwidthGBps: dev.memoryBandwidthGBps,
    memoryEfficiency: memoryEff,
    launchFloorUs: options.launchFloorUs ?? LAUNCH_FLOOR_US[dev.kind],
    // CPU PyTorch has no FlashAttention kernel; GPUs train with it unless told otherwise.
    flashAttention: options.flashAttention ?? dev.kind === 'gpu',
    dropout: options.dropout ?? model.layers.some((x) => x.norm === 'layernorm'),
  };
  // Kept activations follow the attention the timing assumes (flash keeps no s x S tensors).
  const activationOpts = {
    ...(options.sequenceParallel !== undefined ? { sequenceParallel: options.sequenceParallel } : {}),
    flashAttention: factors.flashAttention,
  };

  const shapes = new Map<string, LayerSpec>();
  for (const l of model.layers) if (!shapes.has(layerShapeKey(l))) shapes.set(layerShapeKey(l), l);

  const layers: LayerProfileEntry[] = [];
  for (const [shapeKey, l] of shapes) {
    for (const tp of tpDegrees) {
      if (!tpDivides(l, tp)) continue;
      const parameterBytes = layerParametersPerTpRank(l, tp) * dtypeBytes(l.dtype);
      for (const b of microBatches) {
        const activationBytes = layerActivationBytes(l, b, tp, activationOpts);
        // Roofline (Williams et al. 2009): time = max(FLOPs / achievable FLOPS, bytes / achievable
        // bandwidth). FLOPs: the layer's forward FLOPs for b samples, split tp ways where the layer
        // splits (Megatron splits every matmul of a block; configs/model-tp.ts). Bytes: weights read once plus the kept activations written once and read
        // once by the next operator (an estimate of the forward's memory traffic).
        // Per operator (profiler/op-model.ts): GEMMs at a shape-dependent efficiency, attention,
        // memory-bound operators at memory bandwidth, a launch floor per kernel.
        const { forwardMs, backwardMs } = layerTimesMs(l, b, tp, factors);
        layers.push({
          shapeKey,
          microBatch: b,
          tp,
          forwardMs,
          backwardMs,
          tpCommunication: 'excluded',
          activationBytes,
          // Working set during this layer's backward, beyond its kept activations (the contract in
          // profile.ts; the cost model adds the activations again for a recomputed layer): a gradient
          // buffer the size of its weights (unsharded gradients before FSDP's reduce-scatter / DDP's
          // bucketed all-reduce) and the gradients flowing in and out (two output-sized tensors).
          workingSetBytes: parameterBytes + 2 * layerOutputBytes(l, b),
          parameterBytes,
          spread: 0,
        });
      }
    }
  }

  const intraEff = options.intraNodeBusEfficiency ?? intraNodeBusEfficiency(node.intraNodeLink);
  const interEff = cluster.interNodeLink ? (options.interNodeBusEfficiency ?? interNodeBusEfficiency(cluster.interNodeLink)) : 0;
  const links = deriveLinkEntries(cluster, intraEff, interEff);
  const capacityBytes = dev.memoryBytes;

  return {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    provenance: {
      kind: 'derived',
      device: dev.name,
      date: (options.date ?? new Date()).toISOString(),
      tool: 'uniap spec-profile',
      notes: [
        `per-operator roofline: peak ${peakTflops} TFLOPS (${peakTflops === dev.peakTflops16 ? '16-bit tensor' : 'fp32'}); GEMMs x ${factors.gemmEfficiency} x m/(m + ${factors.gemmHalfDim}), ` +
          `attention ${factors.flashAttention ? 'flash' : 'unfused'} x ${factors.attentionEfficiency}; memory ${dev.memoryBandwidthGBps} GB/s x ${memoryEff}; kernel floor ${factors.launchFloorUs} us`,
        `bus bandwidth: intra-node ${node.intraNodeLink.kind} ${node.intraNodeLink.bandwidthGBps} GB/s x ${intraEff}` +
          (cluster.interNodeLink
            ? `; inter-node ${cluster.interNodeLink.kind} ${cluster.interNodeLink.bandwidthGBps} GB/s per node x ${interEff}, rail-optimized`
            : ''),
        `cluster ${cluster.name}: ${cluster.nodes.length} x ${node.devices} ${dev.name}`,
      ],
    },
    device: { name: dev.name, capacityBytes, reservedBytes: reservedBytes(dev.kind, capacityBytes) },
    cluster: { name: cluster.name, nodes: cluster.nodes.length, devicesPerNode: node.devices },
    overlapSlowdown: 0,
    optimizerBandwidthGBps: dev.memoryBandwidthGBps * memoryEff,
    attention: factors.flashAttention ? 'flash' : 'eager',
    // The executor runs NCCL on GPUs and Gloo on CPUs (python/uniap_torch/comm.py all_to_all).
    allToAll: dev.kind === 'cpu' ? 'all-gather' : 'native',
    layers,
    links,
  };
}

function checkedSizes(values: number[], what: string, integer: boolean): number[] {
  for (const v of values) {
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new UniapError('CONFIG_INVALID', `spec profile: ${what} ${v} is not valid; request ${integer ? 'whole numbers >= 1' : 'positive numbers'}`);
    }
  }
  if (values.length === 0) throw new UniapError('CONFIG_INVALID', `spec profile: no ${what} requested; request at least one`);
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * Group shapes (groupSize, nodes) a rank layout can produce on a homogeneous cluster of N nodes x D
 * devices (ranks numbered node by node). Group sizes: powers of two, divisors of D and divisors of
 * N*D, up to N*D. Node spans: every m from ceil(g/D) (consecutive ranks filling whole nodes) to
 * min(N, g) (strided, one rank per node), including uneven spreads such as a stage of 20 ranks
 * starting at a node boundary of 8-device nodes (8 + 8 + 4 over 3 nodes).
 */
export function groupShapes(nodes: number, devicesPerNode: number): { groupSize: number; nodes: number }[] {
  const n = nodes * devicesPerNode;
  const sizes = new Set<number>();
  for (let p = 2; p <= n; p *= 2) sizes.add(p);
  for (let g = 2; g <= n; g++) if (devicesPerNode % g === 0 || n % g === 0) sizes.add(g);
  const shapes: { groupSize: number; nodes: number }[] = [];
  for (const g of [...sizes].sort((a, b) => a - b)) {
    for (let m = Math.ceil(g / devicesPerNode); m <= Math.min(nodes, g); m++) shapes.push({ groupSize: g, nodes: m });
  }
  return shapes;
}

/** Link entries for every collective on every group shape (p2p: group size 2 only). */
function deriveLinkEntries(cluster: ClusterSpec, intraEff: number, interEff: number): LinkProfileEntry[] {
  const node = cluster.nodes[0]!;
  const D = node.devices;
  const N = cluster.nodes.length;
  const entries: LinkProfileEntry[] = [];
  for (const { groupSize, nodes } of groupShapes(N, D)) {
    for (const c of COLLECTIVES) {
      if (c === 'p2p' && groupSize !== 2) continue;
      entries.push(linkEntry(cluster, c, groupSize, nodes, intraEff, interEff));
    }
  }
  return entries;
}

/**
 * One collective on `groupSize` = g ranks over `nodes` = m nodes. Ranks per node: k = floor(g/m),
 * the emptiest node of an even spread (exact when m divides g). Bus bandwidth (nccl-tests
 * PERFORMANCE.md convention):
 *   inside a node:  B_bus = intra-node link bandwidth (per device, per direction) x intraEff;
 *   across nodes:   B_bus = k x (node's inter-node bandwidth / D) x interEff — rail-optimized, each
 *                   device drives its share of the node's NICs, so k ranks use k/D of them — and no
 *                   more than the intra-node bus bandwidth when k > 1 (the ring also runs inside nodes).
 * Latency (NCCL's tuning model, NVIDIA/nccl src/graph/tuning.cc): a base cost per call plus
 *   ring all-reduce: 2(g-1) - 2(m-1) intra steps + 2(m-1) inter steps;
 *   ring all-gather / reduce-scatter: (g-1) - (m-1) intra steps + (m-1) inter steps;
 *   tree all-reduce across nodes: 2((ceil(g/m)-1) intra + ceil(log2 m) inter) — the smaller of ring
 *   and tree is taken, as NCCL picks the faster algorithm for latency-bound sizes;
 *   p2p: one step over the link between the two ranks.
 */
export function linkEntry(
  cluster: ClusterSpec,
  collective: Collective,
  groupSize: number,
  nodes: number,
  intraEff: number,
  interEff: number,
): LinkProfileEntry {
  const node = cluster.nodes[0]!;
  const D = node.devices;
  const intra = node.intraNodeLink;
  const inter = cluster.interNodeLink;
  if (nodes > 1 && !inter) throw new RangeError(`cluster ${cluster.name} has one node; a group cannot span ${nodes}`);
  const g = groupSize;
  const m = nodes;
  const k = Math.floor(g / m);

  const intraBus = intra.bandwidthGBps * intraEff;
  let busBandwidthGBps = intraBus;
  if (m > 1 && inter) {
    const interBus = k * (inter.bandwidthGBps / D) * interEff;
    busBandwidthGBps = k > 1 ? Math.min(intraBus, interBus) : interBus;
  }

  const a = intra.latencyUs;
  const b = inter?.latencyUs ?? 0;
  let stepsUs: number;
  switch (collective) {
    case 'all-reduce': {
      const ring = (2 * (g - 1) - 2 * (m - 1)) * a + 2 * (m - 1) * b;
      const tree = m > 1 ? 2 * ((Math.ceil(g / m) - 1) * a + Math.ceil(Math.log2(m)) * b) : Infinity;
      stepsUs = Math.min(ring, tree);
      break;
    }
    case 'all-gather':
    case 'reduce-scatter':
      stepsUs = (g - 1 - (m - 1)) * a + (m - 1) * b;
      break;
    case 'p2p':
      stepsUs = m > 1 ? b : a;
      break;
  }
  const latencyMs = (BASE_LATENCY_US[cluster.backend] + stepsUs) / 1000;
  return { collective, groupSize: g, nodes: m, latencyMs, busBandwidthGBps };
}
