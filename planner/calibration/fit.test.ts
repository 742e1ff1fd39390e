// The calibration fit on runs whose truth is known: "measurements" made by the cost model itself
// under chosen factors. The fit must find factors that predict the held-out runs (which it never
// saw) as the truth does, and reservedBytes exactly; predictions before calibration must be off.
import { describe, expect, it } from 'vitest';
import { loadCluster } from '../../configs/cluster-presets.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { applyCalibration, IDENTITY_FACTORS, type CalibrationFactors } from '../../profiler/calibration.ts';
import { deriveSpecProfile } from '../../profiler/spec-profile.ts';
import { checkPlan } from '../plan-io.ts';
import { fitCalibration, predictPlan } from './fit.ts';
import { nelderMead } from './nelder-mead.ts';
import { calibrationCandidates, heldOutMask } from './plans.ts';

describe('nelderMead', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const r = nelderMead(([x, y]) => (1 - x!) ** 2 + 100 * (y! - x! * x!) ** 2, [-1.2, 1], { maxIterations: 2000 });
    expect(r.x[0]).toBeCloseTo(1, 3);
    expect(r.x[1]).toBeCloseTo(1, 3);
  });
});

describe('calibration plans', () => {
  it.each([
    ['tiny-gpt', 'local-cpu:1', 4],
    ['tiny-gpt', 'local-cpu:2', 16],
    ['tiny-gpt', 'local-cpu:4', 16],
    ['tiny-gpt', 'local-cpu:6', 24],
    ['llama-2-7b', 'h100-1x8', 32],
    ['llama-2-7b', 'h100-4x8', 128],
  ])('every candidate of %s on %s (batch %i) is a valid plan, and they differ', (m, c, b) => {
    const model = loadModel(m);
    const cluster = loadCluster(c);
    const plans = calibrationCandidates(model, cluster, b);
    expect(plans.length).toBeGreaterThanOrEqual(2);
    for (const p of plans) expect(() => checkPlan(p.plan, model, cluster, p.name)).not.toThrow();
    expect(new Set(plans.map((p) => JSON.stringify(p.plan.stages) + p.plan.schedule + p.plan.microBatches)).size).toBe(plans.length);
  });

  it('holds out the second of every three plans, and never all', () => {
    expect(heldOutMask(2)).toEqual([false, false]);
    expect(heldOutMask(8)).toEqual([false, true, false, false, true, false, false, true]);
    expect(heldOutMask(4, 2).filter(Boolean)).toHaveLength(2);
  });
});

describe('fitCalibration', () => {
  const model = loadModel('tiny-gpt');
  const cluster = loadCluster('local-cpu:2');
  const base = deriveSpecProfile(model, cluster, { microBatches: [1, 2, 4, 8, 16], tpDegrees: [1, 2] });
  const plans = calibrationCandidates(model, cluster, 16);
  const mask = heldOutMask(plans.length);
  const truth: CalibrationFactors = {
    ...IDENTITY_FACTORS, computeScale: 0.4, layerOverheadMs: 2, collectiveScale: 3, latencyScale: 20, optimizerScale: 0.7, overlapSlowdown: 0.5, reservedBytes: 250 * 2 ** 20,
  };
  const truthProfile = applyCalibration(base, truth);
  const samples = plans.map((p, i) => {
    const t = predictPlan(model, cluster, truthProfile, p.plan);
    return { name: p.name, plan: p.plan, measuredMs: t.timeMs, measuredMemoryBytes: t.modelBytes + truth.reservedBytes, heldOut: mask[i]! };
  });

  it('predicts held-out runs of known factors within 3% after, where the datasheet was far off before', () => {
    const fit = fitCalibration(model, cluster, base, samples);
    expect(fit.heldOut.before.timeMape).toBeGreaterThan(0.2);
    expect(fit.heldOut.after.timeMape).toBeLessThan(0.03);
    expect(fit.fit.after.timeMape).toBeLessThan(0.03);
    expect(fit.heldOut.after.kendallTau).toBeGreaterThan(0.6);
    expect(fit.factors.reservedBytes).toBeCloseTo(truth.reservedBytes, -3);
    expect(fit.heldOut.after.memoryMape).toBeLessThan(1e-6);
    expect(fit.plans.filter((p) => p.role === 'held-out').map((p) => p.name)).toEqual(samples.filter((s) => s.heldOut).map((s) => s.name));
  });

  it('leaves a profile whose numbers are already right where they are', () => {
    const exact = samples.map((s) => {
      const t = predictPlan(model, cluster, base, s.plan);
      return { ...s, measuredMs: t.timeMs, measuredMemoryBytes: t.modelBytes + base.device.reservedBytes };
    });
    const fit = fitCalibration(model, cluster, base, exact);
    expect(fit.heldOut.after.timeMape).toBeLessThan(0.01);
    expect(fit.factors.computeScale).toBeGreaterThan(0.9);
    expect(fit.factors.computeScale).toBeLessThan(1.1);
  });
});
