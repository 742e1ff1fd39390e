// The Profile contract: what the cost model needs to know about a model on a cluster's devices.
// Filled either by derivation from datasheets (profiler/spec-profile.ts), by measurement
// (`uniap profile`), or by import (Galvatron files). Plain JSON with a schema version.
//
// Units: times in milliseconds, sizes in bytes, bandwidth in GB/s (1e9 bytes/s).

export const PROFILE_SCHEMA_VERSION = 1;

import type { CalibrationRecord } from './calibration.ts';

export type Collective = 'all-reduce' | 'all-gather' | 'reduce-scatter' | 'p2p';
export const COLLECTIVES: readonly Collective[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'p2p'];

export interface Provenance {
  kind: 'measured' | 'derived' | 'imported';
  /** Device type name the numbers describe, e.g. "H100-SXM" or "cpu". */
  device: string;
  /** ISO date-time of measurement / derivation. */
  date: string;
  /** What produced it: "uniap spec-profile", "uniap profile (torch 1.13.1, gloo)", "galvatron import of DIR". */
  tool: string;
  /** Software versions or other facts that key a measurement cache (driver, torch, nccl...). */
  versions?: Record<string, string>;
  notes?: string[];
  /** Set by `uniap calibrate`: the factors fitted on measured runs and the errors before and after. */
  calibration?: CalibrationRecord;
}

/**
 * Compute and memory of one distinct layer shape at one per-device micro-batch size (samples a
 * device processes per micro-batch, i.e. the plan's micro-batch size divided by the data-parallel
 * degree) and one tensor-parallel degree. Times are per device.
 */
export interface LayerProfileEntry {
  /** `layerShapeKey(layer)` (configs/model-derive.ts): identical layers share one key. */
  shapeKey: string;
  microBatch: number;
  tp: number;
  forwardMs: number;
  backwardMs: number;
  /** Whether the TP collectives' time is inside forwardMs/backwardMs ('included') or not ('excluded'). */
  tpCommunication: 'included' | 'excluded';
  /** Bytes kept from forward for backward (one micro-batch, this device). */
  activationBytes: number;
  /** Peak transient bytes beyond parameters and kept activations while this layer runs its backward. */
  workingSetBytes: number;
  /** This device's share of the layer's parameters, in the training dtype. */
  parameterBytes: number;
  /** Relative spread of repeated measurements (max-min)/median; 0 for derived. */
  spread?: number;
  /** Set when the measurement looked noisy or non-monotone; the cost model still uses the value. */
  flags?: string[];
}

/**
 * One collective on one group shape: time(bytes) = latencyMs + busFactor * bytes / (busBandwidthGBps * 1e6)
 * milliseconds, with busFactor from nccl-tests' bus-bandwidth convention (PERFORMANCE.md of
 * NVIDIA/nccl-tests): all-reduce 2(n-1)/n, all-gather and reduce-scatter (n-1)/n, p2p 1, where
 * `bytes` is the full buffer size (all-gather / reduce-scatter: the gathered size).
 */
export interface LinkProfileEntry {
  collective: Collective;
  /** Ranks in the group (p2p: 2). */
  groupSize: number;
  /** Nodes the group spans (1 = inside one node). Ranks per node = groupSize / nodes. */
  nodes: number;
  latencyMs: number;
  busBandwidthGBps: number;
}

export interface Profile {
  schemaVersion: typeof PROFILE_SCHEMA_VERSION;
  provenance: Provenance;
  device: {
    name: string;
    capacityBytes: number;
    /** Bytes unavailable to the training job: CUDA context, NCCL buffers, allocator reserve. */
    reservedBytes: number;
  };
  /** The cluster shape the link numbers describe; imported profiles carry it so --cluster is optional. */
  cluster?: { name: string; nodes: number; devicesPerNode: number };
  /**
   * Fraction of overlapped communication time that slows the compute it overlaps (contention):
   * 0 = perfect overlap. Measured by the profiler; 0 in derived profiles.
   */
  overlapSlowdown: number;
  /**
   * Memory bandwidth the optimizer step streams at, GB/s (the AdamW update is elementwise,
   * planner/cost-model/layer-cost.ts). Absent: the step is not timed (profiles from before it was).
   */
  optimizerBandwidthGBps?: number;
  /**
   * The attention the target runs: 'flash' keeps no s x S score tensors (FlashAttention, torch's
   * scaled_dot_product_attention fused kernels), 'eager' keeps them (softmax output, Korthikanti et
   * al. 2022). The cost model scales kept activations by it where sp or selective recomputation drop
   * terms (planner/cost-model/layer-cost.ts). Absent: 'eager' (profiles from before it was recorded).
   */
  attention?: 'flash' | 'eager';
  /**
   * How the target runs an all-to-all (Ulysses context parallelism): 'native' (NCCL's all_to_all,
   * priced like an all-gather of the same per-rank buffer: nccl-tests give both the (n-1)/n bus
   * factor), or 'all-gather' (Gloo has none: every rank all-gathers the whole buffer and keeps its
   * chunks, python/uniap_torch/comm.py). Absent: 'native'.
   */
  allToAll?: 'native' | 'all-gather';
  layers: LayerProfileEntry[];
  links: LinkProfileEntry[];
}

export function busFactor(collective: Collective, groupSize: number): number {
  const n = groupSize;
  switch (collective) {
    case 'all-reduce':
      return (2 * (n - 1)) / n;
    case 'all-gather':
    case 'reduce-scatter':
      return (n - 1) / n;
    case 'p2p':
      return 1;
  }
}

export function usableMemoryBytes(p: Profile): number {
  return p.device.capacityBytes - p.device.reservedBytes;
}
