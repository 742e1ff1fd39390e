// Fitting the calibration factors (profiler/calibration.ts) to measured runs, and the errors before
// and after on the runs kept out of the fit.
//
// Time: the factors minimize the mean squared log error over the fit runs,
//   (1/n) sum_i ln(predicted_i / measured_i)^2  +  PRIOR * sum_k x_k^2   (PRIOR = 1e-5; the
//   overhead term is not in the prior, overlapSlowdown is pulled towards the base's),
// over x = (ln computeScale, ln collectiveScale, ln latencyScale, ln p2pScale, ln optimizerScale,
// overlapSlowdown, layerOverheadMs / T) with T the base profile's mean layer forward time (a scale
// that makes the simplex's steps mean the same on a CPU and on a GPU),
// by Nelder-Mead (nelder-mead.ts) from three starts. Log errors weigh a plan 2x too slow and 2x too
// fast alike. The weak prior keeps a factor that no fit run depends on (no pipeline: p2pScale) from
// wandering to the search bounds; it is 1e-5 x (ln 20)^2 ~ 1e-4 for a 20x factor, the squared log
// error of a 1% miss, so it does not hold back a factor the runs do determine (a prior of 1e-3 did:
// it kept a true 20x latency factor at 1.2x, and fit.test.ts's known-factor case missed by 3%).
// Memory: reservedBytes is the median over fit runs of measured peak minus the cost model's own
// count (states, activations, working set) on the fullest device — a constant per device, as a
// CUDA context or an interpreter is.
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { applyCalibration, neutralFactors, type CalibrationErrors, type CalibrationFactors, type CalibrationPlanRecord } from '../../profiler/calibration.ts';
import type { Profile } from '../../profiler/profile.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import { estimatePlan } from '../estimate.ts';
import type { Plan } from '../plan.ts';
import { kendallTau, mape, median } from '../validation/metrics.ts';
import { nelderMead } from './nelder-mead.ts';

export interface CalibrationSample {
  name: string;
  plan: Plan;
  /** Median time per iteration over the timed steps (slowest rank), ms. */
  measuredMs: number;
  /** Peak bytes of the fullest rank. */
  measuredMemoryBytes: number;
  heldOut: boolean;
}

export interface Prediction {
  timeMs: number;
  /** Cost-model bytes of the fullest stage, without the profile's reservedBytes. */
  modelBytes: number;
}

const PRIOR = 1e-5;
/** Index of overlapSlowdown in the parameter vector (the others are log scales). */
const OVERLAP = 5;
const OVERHEAD = 6;

export function predictPlan(model: ModelSpec, cluster: ClusterSpec, profile: Profile, plan: Plan): Prediction {
  const input = prepareCostModel(model, cluster, { globalBatch: plan.globalBatch, profile });
  const r = estimatePlan(input, plan);
  return { timeMs: r.timePerIterationMs, modelBytes: Math.max(...r.memory.map((m) => m.totalBytes)) };
}

function toFactors(x: number[], reservedBytes: number, overheadUnitMs: number): CalibrationFactors {
  return {
    computeScale: Math.exp(x[0]!),
    layerOverheadMs: Math.max(0, x[OVERHEAD]!) * overheadUnitMs,
    collectiveScale: Math.exp(x[1]!),
    latencyScale: Math.exp(x[2]!),
    p2pScale: Math.exp(x[3]!),
    optimizerScale: Math.exp(x[4]!),
    overlapSlowdown: Math.max(0, x[OVERLAP]!),
    reservedBytes,
  };
}


export interface CalibrationFit {
  factors: CalibrationFactors;
  plans: CalibrationPlanRecord[];
  heldOut: { before: CalibrationErrors; after: CalibrationErrors };
  /** The same errors on the fit runs (how well the factors explain what they were fitted to). */
  fit: { before: CalibrationErrors; after: CalibrationErrors };
  iterations: number;
}

export function errorsOf(rows: readonly { measuredMs: number; predictedMs: number; measuredMemoryBytes: number; predictedMemoryBytes: number }[]): CalibrationErrors {
  const out: CalibrationErrors = {
    timeMape: rows.length ? mape(rows.map((r) => ({ predicted: r.predictedMs, measured: r.measuredMs }))) : 0,
    memoryMape: rows.length ? mape(rows.map((r) => ({ predicted: r.predictedMemoryBytes, measured: r.measuredMemoryBytes }))) : 0,
  };
  const tau = kendallTau(rows.map((r) => r.predictedMs), rows.map((r) => r.measuredMs));
  if (Number.isFinite(tau)) out.kendallTau = tau;
  return out;
}

/** Fits the factors on the samples not held out; predictions before use `base` as it is. */
export function fitCalibration(model: ModelSpec, cluster: ClusterSpec, base: Profile, samples: readonly CalibrationSample[]): CalibrationFit {
  const neutral = neutralFactors(base);
  const before = samples.map((s) => predictPlan(model, cluster, base, s.plan));
  const fitSet = samples.map((s, i) => ({ ...s, before: before[i]! })).filter((s) => !s.heldOut);
  if (fitSet.length === 0) throw new Error('fitCalibration: every sample is held out');

  // Memory: one constant per device (see the header); never below zero.
  const reservedBytes = Math.max(0, median(fitSet.map((s) => s.measuredMemoryBytes - s.before.modelBytes)));

  const unit = base.layers.length ? base.layers.reduce((a, e) => a + e.forwardMs, 0) / base.layers.length : 1;
  const objective = (x: number[]): number => {
    // Outside any plausible machine:
    if (x[OVERLAP]! < 0 || x[OVERLAP]! > 4 || x[OVERHEAD]! < 0 || x[OVERHEAD]! > 100 || x.slice(0, OVERLAP).some((v) => Math.abs(v) > 9)) return 1e9;
    const profile = applyCalibration(base, toFactors(x, reservedBytes, unit));
    let sum = 0;
    for (const s of fitSet) sum += Math.log(predictPlan(model, cluster, profile, s.plan).timeMs / s.measuredMs) ** 2;
    return sum / fitSet.length + PRIOR * x.reduce((a, v, i) => a + (i === OVERLAP ? (v - neutral.overlapSlowdown) ** 2 : i === OVERHEAD ? 0 : v * v), 0);
  };
  // Start from one common scale (the geometric mean of measured/predicted): the simplex then only
  // has to find how the terms differ.
  const g = Math.exp(fitSet.reduce((a, s) => a + Math.log(s.measuredMs / s.before.timeMs), 0) / fitSet.length);
  // Several starts: per-call latency and bandwidth trade off against each other on small messages,
  // and from one start the simplex can settle on the wrong side (latency 1x, bandwidth 10x slower).
  let best = { x: [] as number[], value: Infinity, iterations: 0 };
  for (const latencyStart of [0, Math.log(10), Math.log(100)]) {
    const x0 = [...new Array<number>(OVERLAP).fill(Math.log(g)), neutral.overlapSlowdown, 0];
    x0[2] = Math.log(g) + latencyStart;
    let run = nelderMead(objective, x0, { step: [0.3, 0.5, 1, 0.5, 0.5, 0.3, 0.5], maxIterations: 1000 });
    // Restarts from the optimum with a fresh simplex until one no longer helps: Nelder-Mead can
    // stall on a kink or collapse its simplex in 7 dimensions.
    for (let r = 0; r < 6; r++) {
      const again = nelderMead(objective, run.x, { step: r % 2 ? 0.1 : 0.4, maxIterations: 800 });
      const better = again.value < run.value - 1e-12;
      if (again.value < run.value) run = { ...again, iterations: run.iterations + again.iterations };
      if (!better && r > 0) break;
    }
    if (run.value < best.value) best = { ...run, iterations: best.iterations + run.iterations };
    else best.iterations += run.iterations;
  }
  const factors = toFactors(best.x, reservedBytes, unit);
  const calibrated = applyCalibration(base, factors);

  const plans: CalibrationPlanRecord[] = samples.map((s, i) => {
    const after = predictPlan(model, cluster, calibrated, s.plan);
    return {
      name: s.name,
      role: s.heldOut ? 'held-out' : 'fit',
      measuredMs: s.measuredMs,
      predictedBeforeMs: before[i]!.timeMs,
      predictedAfterMs: after.timeMs,
      measuredMemoryBytes: s.measuredMemoryBytes,
      predictedMemoryBeforeBytes: before[i]!.modelBytes + base.device.reservedBytes,
      predictedMemoryAfterBytes: after.modelBytes + calibrated.device.reservedBytes,
    };
  });
  const errorsFor = (role: CalibrationPlanRecord['role'], when: 'before' | 'after') =>
    errorsOf(
      plans
        .filter((p) => p.role === role)
        .map((p) => ({
          measuredMs: p.measuredMs,
          measuredMemoryBytes: p.measuredMemoryBytes,
          predictedMs: when === 'before' ? p.predictedBeforeMs : p.predictedAfterMs,
          predictedMemoryBytes: when === 'before' ? p.predictedMemoryBeforeBytes : p.predictedMemoryAfterBytes,
        })),
    );
  return {
    factors,
    plans,
    heldOut: { before: errorsFor('held-out', 'before'), after: errorsFor('held-out', 'after') },
    fit: { before: errorsFor('fit', 'before'), after: errorsFor('fit', 'after') },
    iterations: best.iterations,
  };
}
