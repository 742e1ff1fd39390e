// The statistics and fits that turn raw samples into profile numbers, on exact inputs.
import { describe, expect, it } from 'vitest';
import type { LayerProfileEntry } from '../profile.ts';
import { extendSeries, fitLink, flagSeries, linearFit, median, spread, summarizeLayer, summarizeLink } from './fit.ts';

describe('median and spread', () => {
  it('median of odd and even counts; spread = (max - min) / median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([1, 2, 3])).toBe(1);
    expect(spread([])).toBe(0);
  });
});

describe('fitLink', () => {
  it('recovers latency and bus bandwidth of t = alpha + factor * S / (B * 1e6)', () => {
    // all-reduce on 4 ranks: bus factor 2 * 3 / 4 = 1.5; 0.05 ms latency, 100 GB/s bus bandwidth.
    const pts = [1024, 65536, 1 << 20, 16 << 20, 256 << 20].map((bytes) => ({ bytes, timeMs: 0.05 + (1.5 * bytes) / (100 * 1e6) }));
    const f = fitLink('all-reduce', 4, 1, pts);
    expect(f.entry.latencyMs).toBeCloseTo(0.05, 6);
    expect(f.entry.busBandwidthGBps).toBeCloseTo(100, 4);
    expect(f.maxRelativeError).toBeLessThan(1e-9);
    expect(f.nonMonotoneBytes).toEqual([]);
  });

  it('never returns a negative latency, and reports sizes measured faster than a smaller one', () => {
    const f = fitLink('p2p', 2, 1, [
      { bytes: 1000, timeMs: 0.001 },
      { bytes: 2000, timeMs: 0.5 },
      { bytes: 4000, timeMs: 0.2 },
      { bytes: 1e6, timeMs: 10 },
    ]);
    expect(f.entry.latencyMs).toBeGreaterThanOrEqual(0);
    expect(f.entry.busBandwidthGBps).toBeGreaterThan(0);
    expect(f.nonMonotoneBytes).toEqual([4000]);
  });
});

describe('layer series', () => {
  const e = (microBatch: number, total: number, spreadValue = 0.1, activationBytes = microBatch * 100): LayerProfileEntry => ({
    shapeKey: 'decoder:x',
    microBatch,
    tp: 1,
    forwardMs: total / 3,
    backwardMs: (2 * total) / 3,
    tpCommunication: 'included',
    activationBytes,
    workingSetBytes: 10 * microBatch,
    parameterBytes: 1000,
    spread: spreadValue,
  });

  it('flags noisy, non-monotone and off-fit entries and keeps their values', () => {
    const flagged = flagSeries([e(1, 3), e(2, 2, 0.9), e(4, 12), e(8, 24, 0.1, 50)]);
    expect(flagged.map((x) => x.flags ?? [])).toEqual([['off-fit'], ['noisy', 'non-monotone', 'off-fit'], [], ['non-monotone-memory']]);
    expect(flagged[1]!.forwardMs).toBeCloseTo(2 / 3);
  });

  it('extends a series at larger powers of two from the linear fit, flagged fitted', () => {
    const ext = extendSeries([e(1, 3), e(2, 5), e(4, 9)], 16);
    expect(ext.map((x) => x.microBatch)).toEqual([8, 16]);
    expect(ext[0]!.forwardMs + ext[0]!.backwardMs).toBeCloseTo(17);
    expect(ext[1]!.activationBytes).toBe(1600);
    expect(ext.every((x) => x.flags?.includes('fitted'))).toBe(true);
    expect(linearFit([{ x: 1, y: 3 }, { x: 2, y: 5 }])).toEqual({ intercept: 1, slope: 2 });
  });
});

describe('summaries of per-rank results', () => {
  it('takes the slowest rank for layers and links, the largest memory', () => {
    const layer = summarizeLayer([
      { forwardSamples: [1, 1, 1], backwardSamples: [2, 2, 2], activationBytes: 10, workingSetBytes: 5, parameterBytes: 7, memoryMethod: 'm' },
      { forwardSamples: [2, 3, 2], backwardSamples: [4, 4, 5], activationBytes: 12, workingSetBytes: 4, parameterBytes: 7, memoryMethod: 'm' },
    ]);
    expect(layer).toMatchObject({ forwardMs: 2, backwardMs: 4, activationBytes: 12, workingSetBytes: 5, parameterBytes: 7, repetitions: 3 });
    expect(layer.spread).toBeCloseTo((7 - 6) / 7); // totals 6, 7, 7
    const link = summarizeLink([{ samples: [1, 2, 3], emulated: false }, { samples: [4, 5, 6], emulated: true }]);
    expect(link).toMatchObject({ timeMs: 5, repetitions: 3, emulated: true });
  });
});
