// Applying calibration factors to a profile: the identity leaves every number alone, each factor
// acts on its own term only, and a calibrated profile's record survives a save/parse round trip.
import { describe, expect, it } from 'vitest';
import { loadCluster } from '../configs/cluster-presets.ts';
import { loadModel } from '../configs/model-presets.ts';
import { applyCalibration, neutralFactors, type CalibrationRecord } from './calibration.ts';
import { parseProfile } from './profile-io.ts';
import { deriveSpecProfile } from './spec-profile.ts';

const base = deriveSpecProfile(loadModel('tiny-gpt'), loadCluster('local-cpu:2'), { microBatches: [1, 2], tpDegrees: [1, 2] });

describe('applyCalibration', () => {
  it('the neutral factors leave the profile as it is', () => {
    expect(applyCalibration(base, neutralFactors(base))).toEqual(base);
  });

  it('each factor scales its own term', () => {
    const f = { ...neutralFactors(base), computeScale: 2, layerOverheadMs: 0.5, collectiveScale: 4, latencyScale: 10, p2pScale: 3, optimizerScale: 5, overlapSlowdown: 0.25, reservedBytes: 1e8 };
    const c = applyCalibration(base, f);
    expect(c.layers[0]!.forwardMs).toBeCloseTo(base.layers[0]!.forwardMs * 2 + 0.5, 12);
    expect(c.layers[0]!.backwardMs).toBeCloseTo(base.layers[0]!.backwardMs * 2 + 0.5, 12);
    expect(c.layers[0]!.activationBytes).toBe(base.layers[0]!.activationBytes);
    base.links.forEach((l, i) => {
      const scale = l.collective === 'p2p' ? 3 : 4;
      const latency = l.collective === 'p2p' ? 3 : 10;
      expect(c.links[i]!.busBandwidthGBps).toBeCloseTo(l.busBandwidthGBps / scale, 12);
      expect(c.links[i]!.latencyMs).toBeCloseTo(l.latencyMs * latency, 12);
    });
    expect(c.optimizerBandwidthGBps).toBeCloseTo(base.optimizerBandwidthGBps! / 5, 12);
    expect(c.overlapSlowdown).toBe(0.25);
    expect(c.device.reservedBytes).toBe(1e8);
  });

  it('refuses a non-positive scale with the factor named', () => {
    expect(() => applyCalibration(base, { ...neutralFactors(base), collectiveScale: 0 })).toThrow(/collectiveScale is 0; it must be a positive number/);
  });

  it('a calibrated profile parses back with its record', () => {
    const record: CalibrationRecord = {
      date: '2026-12-03T00:00:00Z', tool: 'uniap calibrate', base: 'derived on cpu', timedSteps: 5, factors: neutralFactors(base),
      plans: [{ name: 'dp2', role: 'fit', measuredMs: 10, predictedBeforeMs: 20, predictedAfterMs: 11, measuredMemoryBytes: 5, predictedMemoryBeforeBytes: 6, predictedMemoryAfterBytes: 5 }],
      heldOut: { before: { timeMape: 0.5, memoryMape: 0.1, kendallTau: 0.2 }, after: { timeMape: 0.05, memoryMape: 0.01 } },
    };
    const p = { ...base, provenance: { ...base.provenance, calibration: record } };
    expect(parseProfile(JSON.parse(JSON.stringify(p)), 'p.json')).toEqual(p);
    const bad = JSON.parse(JSON.stringify(p));
    bad.provenance.calibration.plans[0].role = 'both';
    expect(() => parseProfile(bad, 'p.json')).toThrow(/p\.json: at \$\.provenance\.calibration\.plans\[0\]\.role/);
  });
});
