// ProfileLookup: exact entries, interpolation / extrapolation in micro-batch, collectives by the
// bus-bandwidth model, and PROFILE_MISSING messages.
import { describe, expect, it } from 'vitest';
import { UniapError } from '../common/errors.ts';
import type { LayerProfileEntry, Profile } from './profile.ts';
import { ProfileLookup } from './profile-lookup.ts';

function entry(microBatch: number, tp: number, forwardMs: number, activationBytes: number): LayerProfileEntry {
  return {
    shapeKey: 'dec',
    microBatch,
    tp,
    forwardMs,
    backwardMs: 2 * forwardMs,
    tpCommunication: 'excluded',
    activationBytes,
    workingSetBytes: activationBytes + 10,
    parameterBytes: 1000 / tp,
  };
}

function profile(): Profile {
  return {
    schemaVersion: 1,
    provenance: { kind: 'measured', device: 'X', date: '2025-01-01T00:00:00Z', tool: 'test' },
    device: { name: 'X', capacityBytes: 1e10, reservedBytes: 1e9 },
    overlapSlowdown: 0,
    layers: [
      // Deliberately out of order: the lookup sorts.
      entry(4, 1, 10, 400),
      entry(1, 1, 3, 100),
      entry(2, 1, 5, 200),
      entry(8, 1, 18, 800),
      entry(2, 2, 3, 120),
    ],
    links: [
      { collective: 'all-reduce', groupSize: 2, nodes: 1, latencyMs: 0.01, busBandwidthGBps: 100 },
      { collective: 'all-reduce', groupSize: 8, nodes: 1, latencyMs: 0.02, busBandwidthGBps: 200 },
      { collective: 'all-reduce', groupSize: 16, nodes: 2, latencyMs: 0.05, busBandwidthGBps: 50 },
      { collective: 'p2p', groupSize: 2, nodes: 2, latencyMs: 0.004, busBandwidthGBps: 25 },
    ],
  };
}

function missing(f: () => unknown): UniapError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UniapError);
    expect((e as UniapError).code).toBe('PROFILE_MISSING');
    expect((e as Error).message).not.toContain('\n');
    return e as UniapError;
  }
  throw new Error('expected PROFILE_MISSING');
}

describe('ProfileLookup.layer', () => {
  const lookup = new ProfileLookup(profile());

  it('returns the exact entry', () => {
    expect(lookup.layer('dec', 4, 1)).toEqual(entry(4, 1, 10, 400));
    expect(lookup.layer('dec', 2, 2).forwardMs).toBe(3);
  });

  it('interpolates linearly between tabulated micro-batch sizes', () => {
    const e = lookup.layer('dec', 3, 1); // halfway between 2 (5 ms, 200 B) and 4 (10 ms, 400 B)
    expect(e.forwardMs).toBeCloseTo(7.5, 12);
    expect(e.backwardMs).toBeCloseTo(15, 12);
    expect(e.activationBytes).toBe(300);
    expect(e.workingSetBytes).toBe(310);
    expect(e.parameterBytes).toBe(1000);
    expect(e.microBatch).toBe(3);
    expect(e.flags).toEqual(['interpolated']);
    expect(lookup.layer('dec', 6, 1).forwardMs).toBeCloseTo(14, 12); // 10 + (18-10)/2
  });

  it('extrapolates linearly beyond the range', () => {
    const big = lookup.layer('dec', 16, 1); // from (4, 10) and (8, 18): slope 2 per sample
    expect(big.forwardMs).toBeCloseTo(34, 12);
    expect(big.activationBytes).toBe(1600);
    expect(big.flags).toEqual(['extrapolated']);
    // Below the smallest size: from (1, 3) and (2, 5) the line gives 3 - 2*0.5 = 2 at 0.5.
    expect(lookup.layer('dec', 0.5, 1).forwardMs).toBeCloseTo(2, 12);
  });

  it('scales proportionally from a single tabulated size', () => {
    const e = lookup.layer('dec', 4, 2); // only mb 2 at tp 2
    expect(e.forwardMs).toBeCloseTo(6, 12);
    expect(e.activationBytes).toBe(240);
    expect(e.parameterBytes).toBe(500);
  });

  it('says which shape or tp is missing and how to fix it', () => {
    const shape = missing(() => lookup.layer('enc', 1, 1));
    expect(shape.message).toContain('has no layer of shape enc; it has dec');
    expect(shape.message).toContain('uniap profile --model');
    expect(shape.message).toContain('plan without --profile');
    const tp = missing(() => lookup.layer('dec', 1, 4));
    expect(tp.message).toContain('has layer shape dec at tp 1, 2 but not at tp 4');
  });
});

describe('ProfileLookup.collectiveMs', () => {
  const lookup = new ProfileLookup(profile());

  it('uses the exact entry with the nccl-tests bus factor', () => {
    // all-reduce, 8 ranks: 2*7/8 = 1.75; 1 GB at 200 GB/s bus bandwidth = 1.75 * 1e9 / 2e11 s = 8.75 ms.
    expect(lookup.collectiveMs('all-reduce', 1e9, 8, 1)).toBeCloseTo(0.02 + 8.75, 9);
    // p2p across nodes: factor 1; 50 MB at 25 GB/s = 2 ms.
    expect(lookup.collectiveMs('p2p', 5e7, 2, 2)).toBeCloseTo(0.004 + 2, 9);
  });

  it('costs nothing for a group of one or zero bytes', () => {
    expect(lookup.collectiveMs('all-reduce', 1e9, 1, 1)).toBe(0);
    expect(lookup.collectiveMs('all-reduce', 0, 8, 1)).toBe(0);
  });

  it('falls back to the nearest group size with the same node count, scaled by the bus factor', () => {
    // 6 ranks: nearest is 8 (ratio 1.33 vs 3). factor 2*5/6.
    expect(lookup.collectiveMs('all-reduce', 1e9, 6, 1)).toBeCloseTo(0.02 + ((2 * 5) / 6) * 1e9 / 2e8, 9);
  });

  it('reports a node span the profile lacks', () => {
    const e = missing(() => lookup.collectiveMs('all-reduce', 1e6, 32, 4));
    expect(e.message).toContain('has no all-reduce over 4 nodes');
    expect(e.message).toContain('it has all-reduce over 1, 2 node(s)');
    expect(missing(() => lookup.collectiveMs('all-gather', 1e6, 8, 1)).message).toContain('no node span');
  });
});
