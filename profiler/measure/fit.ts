// From raw samples to profile numbers: medians and spread of the slowest rank, the latency +
// size/bandwidth fit of each collective, the linear fit of layer time vs micro-batch size, and the
// flags for measurements that look noisy or non-monotone (kept, never silently dropped).
import { busFactor, type Collective, type LayerProfileEntry, type LinkProfileEntry } from '../profile.ts';
import type { LayerMeasurement, LinkMeasurement, OverlapMeasurement } from '../cache.ts';

/** (max - min) / median above this marks a measurement 'noisy'. */
export const NOISY_SPREAD = 0.5;
/** A larger micro-batch measured faster than a smaller one by more than this fraction: 'non-monotone'. */
export const MONOTONE_TOLERANCE = 0.05;
/** A measured point off the linear micro-batch fit by more than this fraction: 'off-fit'. */
export const OFF_FIT_TOLERANCE = 0.25;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : 0.5 * (s[n / 2 - 1]! + s[n / 2]!);
}

export function spread(xs: readonly number[]): number {
  const m = median(xs);
  return xs.length && m > 0 ? (Math.max(...xs) - Math.min(...xs)) / m : 0;
}

// ---- raw per-rank results (the Python side's JSON) ----

interface RawLayer {
  forwardSamples: number[];
  backwardSamples: number[];
  activationBytes: number;
  workingSetBytes: number;
  parameterBytes: number;
  memoryMethod: string;
}
interface RawLink {
  samples: number[];
  emulated: boolean;
}
interface RawOverlap {
  computeAloneMs: number;
  commAloneMs: number;
  computeOverlappedMs: number;
  slowdown: number;
}

function asArray<T>(perRank: unknown[], what: string): T[] {
  if (!Array.isArray(perRank) || perRank.length === 0) throw new Error(`no per-rank results for ${what}`);
  return perRank as T[];
}

/**
 * One layer measurement from every rank's samples: the device that is slowest (largest median
 * forward + backward) defines the times, as the slowest rank gates a TP group and a pipeline stage;
 * memory is the largest over ranks.
 */
export function summarizeLayer(perRank: unknown[]): LayerMeasurement {
  const ranks = asArray<RawLayer>(perRank, 'layer');
  let slowest = ranks[0]!;
  let slowestTotal = -1;
  for (const r of ranks) {
    const total = median(r.forwardSamples) + median(r.backwardSamples);
    if (total > slowestTotal) [slowest, slowestTotal] = [r, total];
  }
  const totals = slowest.forwardSamples.map((f, i) => f + (slowest.backwardSamples[i] ?? 0));
  return {
    forwardMs: median(slowest.forwardSamples),
    backwardMs: median(slowest.backwardSamples),
    spread: spread(totals),
    activationBytes: Math.max(...ranks.map((r) => r.activationBytes)),
    workingSetBytes: Math.max(...ranks.map((r) => r.workingSetBytes)),
    parameterBytes: Math.max(...ranks.map((r) => r.parameterBytes)),
    memoryMethod: slowest.memoryMethod,
    repetitions: slowest.forwardSamples.length,
  };
}

/** One message size of one collective: the slowest rank's median (a collective ends when its last rank does). */
export function summarizeLink(perRank: unknown[]): LinkMeasurement {
  const ranks = asArray<RawLink>(perRank, 'link');
  let slowest = ranks[0]!;
  for (const r of ranks) if (median(r.samples) > median(slowest.samples)) slowest = r;
  return { timeMs: median(slowest.samples), spread: spread(slowest.samples), repetitions: slowest.samples.length, emulated: ranks.some((r) => r.emulated) };
}

/** The overlap slowdown of the most affected rank. */
export function summarizeOverlap(perRank: unknown[]): OverlapMeasurement {
  const ranks = asArray<RawOverlap>(perRank, 'overlap');
  let worst = ranks[0]!;
  for (const r of ranks) if (r.slowdown > worst.slowdown) worst = r;
  return { slowdown: worst.slowdown, computeAloneMs: worst.computeAloneMs, commAloneMs: worst.commAloneMs, computeOverlappedMs: worst.computeOverlappedMs };
}

// ---- collectives: time(bytes) = latency + busFactor * bytes / (busBandwidth * 1e6) ----

export interface LinkFit {
  entry: LinkProfileEntry;
  /** Largest relative deviation of a measured point from the fit. */
  maxRelativeError: number;
  /** Message sizes whose time was below a smaller size's (non-monotone), for the notes. */
  nonMonotoneBytes: number[];
}

/**
 * Weighted least squares of t = alpha + beta * S over the measured sizes, weights 1/t^2, so every
 * size counts by its relative error (sizes span 5 orders of magnitude; unweighted, the largest
 * would decide alone). alpha < 0 is refitted through the origin; beta <= 0 (no growth measured)
 * falls back to the largest size's average throughput. busBandwidth = busFactor / (beta * 1e6) with
 * t in ms and S in bytes (profile.ts).
 */
export function fitLink(
  collective: Collective,
  groupSize: number,
  nodes: number,
  points: readonly { bytes: number; timeMs: number }[],
): LinkFit {
  const pts = points.filter((p) => p.timeMs > 0 && p.bytes > 0).sort((a, b) => a.bytes - b.bytes);
  if (pts.length === 0) throw new Error(`no timings to fit for ${collective} on ${groupSize} ranks`);
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const p of pts) {
    const w = 1 / (p.timeMs * p.timeMs);
    sw += w;
    sx += w * p.bytes;
    sy += w * p.timeMs;
    sxx += w * p.bytes * p.bytes;
    sxy += w * p.bytes * p.timeMs;
  }
  const det = sw * sxx - sx * sx;
  let alpha = det !== 0 ? (sxx * sy - sx * sxy) / det : 0;
  let beta = det !== 0 ? (sw * sxy - sx * sy) / det : 0;
  if (alpha < 0) {
    alpha = 0;
    beta = sxy / sxx;
  }
  if (!(beta > 0)) {
    const last = pts[pts.length - 1]!;
    alpha = 0;
    beta = last.timeMs / last.bytes;
  }
  const factor = busFactor(collective, groupSize);
  const entry: LinkProfileEntry = { collective, groupSize, nodes, latencyMs: alpha, busBandwidthGBps: factor / (beta * 1e6) };
  let maxRelativeError = 0;
  for (const p of pts) maxRelativeError = Math.max(maxRelativeError, Math.abs(alpha + beta * p.bytes - p.timeMs) / p.timeMs);
  const nonMonotoneBytes: number[] = [];
  let best = 0;
  for (const p of pts) {
    if (p.timeMs < best * (1 - MONOTONE_TOLERANCE)) nonMonotoneBytes.push(p.bytes);
    best = Math.max(best, p.timeMs);
  }
  return { entry, maxRelativeError, nonMonotoneBytes };
}

// ---- layers: time vs micro-batch ----

export interface LinearFit {
  intercept: number;
  slope: number;
}

/** Ordinary least squares y = intercept + slope * x (one point: through the origin). */
export function linearFit(points: readonly { x: number; y: number }[]): LinearFit {
  if (points.length === 0) return { intercept: 0, slope: 0 };
  if (points.length === 1) return { intercept: 0, slope: points[0]!.y / points[0]!.x };
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0, sxy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope };
}

/**
 * Flags on one (shape, tp) series of measured entries, sorted by micro-batch:
 * - 'noisy': spread above NOISY_SPREAD;
 * - 'non-monotone': forward + backward below a smaller micro-batch's by more than MONOTONE_TOLERANCE
 *   (the machine was busier for the smaller one, or the larger ran a different kernel);
 * - 'off-fit': more than OFF_FIT_TOLERANCE off the linear fit of the series (3+ points).
 * Returns new entries; the values are kept as measured.
 */
export function flagSeries(series: readonly LayerProfileEntry[]): LayerProfileEntry[] {
  const sorted = [...series].sort((a, b) => a.microBatch - b.microBatch);
  const fit = linearFit(sorted.map((e) => ({ x: e.microBatch, y: e.forwardMs + e.backwardMs })));
  let best = 0;
  let bestAct = 0;
  return sorted.map((e) => {
    const flags = new Set(e.flags ?? []);
    const total = e.forwardMs + e.backwardMs;
    if ((e.spread ?? 0) > NOISY_SPREAD) flags.add('noisy');
    if (total < best * (1 - MONOTONE_TOLERANCE)) flags.add('non-monotone');
    if (e.activationBytes < bestAct) flags.add('non-monotone-memory');
    best = Math.max(best, total);
    bestAct = Math.max(bestAct, e.activationBytes);
    if (sorted.length >= 3) {
      const predicted = fit.intercept + fit.slope * e.microBatch;
      if (predicted > 0 && Math.abs(predicted - total) / predicted > OFF_FIT_TOLERANCE) flags.add('off-fit');
    }
    const out: LayerProfileEntry = { ...e };
    if (flags.size > 0) out.flags = [...flags].sort();
    else delete out.flags;
    return out;
  });
}

/**
 * Entries at micro-batch sizes beyond the measured ones (the next powers of two up to `upTo`), from
 * linear fits in micro-batch of forward, backward, activation and working-set bytes over the
 * measured series, flagged 'fitted'. Linear in micro-batch is the layer's FLOPs and Korthikanti's
 * activation formula; the intercept absorbs per-call overheads. Values are kept >= the largest
 * measured one (monotone extension).
 */
export function extendSeries(series: readonly LayerProfileEntry[], upTo: number): LayerProfileEntry[] {
  const sorted = [...series].sort((a, b) => a.microBatch - b.microBatch);
  const last = sorted[sorted.length - 1];
  if (!last || sorted.length < 2) return [];
  const fitOf = (f: (e: LayerProfileEntry) => number) => linearFit(sorted.map((e) => ({ x: e.microBatch, y: f(e) })));
  const fF = fitOf((e) => e.forwardMs);
  const fB = fitOf((e) => e.backwardMs);
  const fA = fitOf((e) => e.activationBytes);
  const fW = fitOf((e) => e.workingSetBytes);
  const at = (f: LinearFit, x: number, floor: number) => Math.max(floor, f.intercept + f.slope * x);
  const out: LayerProfileEntry[] = [];
  let mb = 1;
  while (mb <= last.microBatch) mb *= 2;
  for (; mb <= upTo; mb *= 2) {
    out.push({
      shapeKey: last.shapeKey,
      microBatch: mb,
      tp: last.tp,
      forwardMs: at(fF, mb, last.forwardMs),
      backwardMs: at(fB, mb, last.backwardMs),
      tpCommunication: last.tpCommunication,
      activationBytes: Math.round(at(fA, mb, last.activationBytes)),
      workingSetBytes: Math.round(at(fW, mb, last.workingSetBytes)),
      parameterBytes: last.parameterBytes,
      flags: ['fitted'],
    });
  }
  return out;
}
