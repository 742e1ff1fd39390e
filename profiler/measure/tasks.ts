// What `uniap profile` measures for a model on a cluster: one task per (distinct layer shape, dtype,
// micro-batch, tp), per (collective, group size, message size), and the overlap slowdown, minus what
// the cache already holds. Plain data; the driver runs it, the assembler turns results into a Profile.
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import type { DType, LayerSpec, ModelSpec } from '../../configs/model-spec.ts';
import { layerShapeKey } from '../../configs/model-derive.ts';
import { tpDivides } from '../../configs/model-tp.ts';
import { layerFacts, type LayerFacts } from '../../configs/model-facts.ts';
import type { Collective } from '../profile.ts';
import { COLLECTIVES } from '../profile.ts';
import type { LayerKey, LinkKey, MeasurementCache } from '../cache.ts';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Message sizes of the full run: 1 KiB .. 256 MiB, every factor of 4 (10 sizes). */
export const FULL_MAX_MESSAGE_BYTES = 256 * MiB;
/**
 * Quick mode (tests, CPU machines): 1 KiB .. 4 MiB, one warm-up and 3 repetitions per layer. Gloo
 * over loopback reaches its bandwidth plateau by ~1 MiB, so the fit stays meaningful; a 256 MiB
 * all-reduce on a shared 2-core machine costs seconds per call.
 */
export const QUICK_MAX_MESSAGE_BYTES = 4 * MiB;
export const MIN_MESSAGE_BYTES = 1 * KiB;
export const MESSAGE_STEP = 4;

export interface LayerTask {
  id: string;
  kind: 'layer';
  /** The representative layer of its shape, sent to the executor's build_layer as is. */
  layer: LayerSpec;
  shapeKey: string;
  dtype: DType;
  microBatch: number;
  tp: number;
  warmup: number;
  reps: number;
  seed: number;
  /** The layer's resolved facts (configs/model-facts.ts), which build_layer reads as the executor does. */
  facts: LayerFacts;
  /** What of the facts changes this layer's computation beyond its shape key, as a cache-key part ('' when none). */
  variant: string;
}

export interface LinkTask {
  id: string;
  kind: 'link';
  collective: Collective;
  groupSize: number;
  nodes: number;
  bytes: number;
  warmup: number;
  minReps: number;
  maxReps: number;
  /** Keep repeating (up to maxReps) while the time spent is under this, ms. */
  budgetMs: number;
}

export interface OverlapTask {
  id: string;
  kind: 'overlap';
  reps: number;
  /** Each side (compute, communication) is calibrated to about this long, ms. */
  targetMs: number;
  matrix: number;
  commBytes: number;
}

export type MeasureTask = LayerTask | LinkTask | OverlapTask;

export interface MeasurePlanOptions {
  /** Per-device micro-batch sizes (samples). */
  microBatches: number[];
  /** TP degrees; default: every divisor of the processes measured (a TP group stays in a node). */
  tpDegrees?: number[];
  /** The dtype layers are built in; default the model's. */
  dtype?: DType;
  /** Processes launched on this machine (one per device). */
  processes: number;
  maxMessageBytes: number;
  warmup: number;
  reps: number;
  /** Skip the link and overlap benchmarks. */
  skipLinks?: boolean;
}

export interface MeasurePlan {
  /** Every task the profile needs (cached or not). */
  all: MeasureTask[];
  /** The tasks whose result is not in the cache. */
  todo: MeasureTask[];
  /** shapeKey -> representative layer. */
  shapes: Map<string, LayerSpec>;
  tpDegrees: number[];
  /** Requested TP degrees that do not divide the processes measured here (not measurable). */
  skippedTp: number[];
  dtype: DType;
  messageSizes: number[];
  /** Group sizes measured inside this node (all concurrent groups of that size). */
  groupSizes: number[];
}

export function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

export function messageSizes(maxBytes: number, minBytes = MIN_MESSAGE_BYTES, step = MESSAGE_STEP): number[] {
  const out: number[] = [];
  for (let s = minBytes; s <= maxBytes; s *= step) out.push(s);
  if (out[out.length - 1] !== maxBytes && maxBytes > minBytes) out.push(maxBytes);
  return out;
}

/** Distinct layer shapes in model order: shapeKey -> the first layer of that shape. */
export function distinctShapes(model: ModelSpec): Map<string, LayerSpec> {
  const shapes = new Map<string, LayerSpec>();
  for (const l of model.layers) {
    const k = layerShapeKey(l);
    if (!shapes.has(k)) shapes.set(k, l);
  }
  return shapes;
}

/** What of the facts changes a layer's work beyond its shape key: the pooling of a pooled head. */
export function variantOf(f: LayerFacts): string {
  return f.head && f.head.pooling !== 'none' ? `pool=${f.head.pooling}` : '';
}

export function planMeasurements(model: ModelSpec, _cluster: ClusterSpec, o: MeasurePlanOptions, cache?: MeasurementCache): MeasurePlan {
  const dtype = o.dtype ?? model.dtype;
  const shapes = distinctShapes(model);
  const requested = [...new Set(o.tpDegrees ?? divisors(o.processes))].sort((a, b) => a - b);
  const tpDegrees = requested.filter((t) => t >= 1 && o.processes % t === 0);
  const skippedTp = requested.filter((t) => !tpDegrees.includes(t));
  const microBatches = [...new Set(o.microBatches)].sort((a, b) => a - b);
  const all: MeasureTask[] = [];
  for (const [shapeKey, layer] of shapes) {
    const facts = layerFacts(model, layer);
    const variant = variantOf(facts);
    for (const tp of tpDegrees) {
      if (!tpDivides(layer, tp)) continue;
      for (const microBatch of microBatches) {
        all.push({
          id: `layer ${layer.name} (${layer.type}) mb=${microBatch} tp=${tp}`,
          kind: 'layer',
          layer: { ...layer, dtype },
          shapeKey,
          dtype,
          microBatch,
          tp,
          warmup: o.warmup,
          reps: o.reps,
          seed: 1234,
          facts,
          variant,
        });
      }
    }
  }
  const sizes = o.skipLinks ? [] : messageSizes(o.maxMessageBytes);
  const groupSizes = o.processes >= 2 && !o.skipLinks ? divisors(o.processes).filter((g) => g >= 2) : [];
  if (groupSizes.length > 0) {
    all.push({ id: 'overlap of compute and all-reduce', kind: 'overlap', reps: Math.max(3, o.reps), targetMs: 60, matrix: 384, commBytes: 1 * MiB });
    for (const collective of COLLECTIVES) {
      for (const g of collective === 'p2p' ? [2] : groupSizes) {
        for (const bytes of sizes) {
          all.push({
            id: `${collective} group=${g} ${fmtSize(bytes)}`,
            kind: 'link',
            collective,
            groupSize: g,
            nodes: 1,
            bytes,
            warmup: bytes >= 16 * MiB ? 1 : 3,
            minReps: 3,
            maxReps: bytes >= 16 * MiB ? 5 : 30,
            budgetMs: 200,
          });
        }
      }
    }
  }
  const todo = cache ? all.filter((t) => !isCached(t, cache)) : all;
  return { all, todo, shapes, tpDegrees, skippedTp, dtype, messageSizes: sizes, groupSizes };
}

export function layerKeyOf(t: LayerTask): LayerKey {
  return { shapeKey: t.shapeKey, variant: t.variant, dtype: t.dtype, microBatch: t.microBatch, tp: t.tp };
}

export function linkKeyOf(t: LinkTask): LinkKey {
  return { collective: t.collective, groupSize: t.groupSize, nodes: t.nodes, bytes: t.bytes };
}

export function isCached(t: MeasureTask, cache: MeasurementCache): boolean {
  switch (t.kind) {
    case 'layer':
      return cache.getLayer(layerKeyOf(t)) !== undefined;
    case 'link':
      return cache.getLink(linkKeyOf(t)) !== undefined;
    case 'overlap':
      return cache.getOverlap() !== undefined;
  }
}

export function fmtSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

/**
 * Relative cost of a task, for the progress bar's time estimate (only ratios within one kind
 * matter): layers ~ samples x hidden^2 x seq / tp x repetitions; links ~ latency + bytes.
 */
export function taskWeight(t: MeasureTask): number {
  switch (t.kind) {
    case 'layer': {
      const l = t.layer;
      const h = Math.max(1, l.hiddenSize);
      const work = t.microBatch * Math.max(1, l.seqLength) * h * (h + Math.max(l.ffnSize, l.vocabSize, h)) / t.tp;
      return (t.warmup + t.reps + 2) * (work + 1e6);
    }
    case 'link':
      return (t.minReps + t.warmup) * (64 * KiB + t.bytes);
    case 'overlap':
      return t.reps;
  }
}
