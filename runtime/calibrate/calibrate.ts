// `uniap calibrate` as a function: pick short, diverse plans (planner/calibration/plans.ts) that the
// base profile says fit, run them through launch (measure-plans.ts), fit the calibration factors on
// some and report the error on the others (planner/calibration/fit.ts), and return the calibrated
// profile with the fit in its provenance. The base is the user's profile or the datasheet one.
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { UniapError } from '../../common/errors.ts';
import { DEFAULT_COST_MODEL_OPTIONS, prepareCostModel, tpDegreesFor } from '../../planner/cost-model/input.ts';
import { divisors } from '../../planner/cost-model/math.ts';
import { estimatePlan } from '../../planner/estimate.ts';
import { checkPlan } from '../../planner/plan-io.ts';
import { calibrationCandidates, heldOutMask, type NamedPlan } from '../../planner/calibration/plans.ts';
import { fitCalibration, type CalibrationFit } from '../../planner/calibration/fit.ts';
import { applyCalibration, type CalibrationRecord } from '../../profiler/calibration.ts';
import type { Profile } from '../../profiler/profile.ts';
import { deriveSpecProfile } from '../../profiler/spec-profile.ts';
import { measurePlans, type MeasuredPlan, type MeasurePlansOptions } from './measure-plans.ts';

export interface CalibrateOptions extends Omit<MeasurePlansOptions, 'plans'> {
  modelSpec: ModelSpec;
  cluster: ClusterSpec;
  /** The profile to calibrate; null: the datasheet (spec) profile of the model on the cluster. */
  base: Profile | null;
  globalBatch: number;
  /** How many plans to run (the first this many candidates that fit). */
  plans: number;
  /** How many of them to keep out of the fit (default: about a third). */
  heldOut: number | null;
}

export interface CalibrateResult {
  profile: Profile;
  base: Profile;
  plans: NamedPlan[];
  measured: MeasuredPlan[];
  fit: CalibrationFit;
  /** Candidates left out because the base profile predicts they do not fit the devices. */
  skipped: string[];
}

/** Micro-batch sizes a datasheet base profile tabulates: every divisor of the batch and powers of two to 128. */
function specMicroBatches(globalBatch: number): number[] {
  return [...new Set([...divisors(globalBatch), 1, 2, 4, 8, 16, 32, 64, 128])].sort((a, b) => a - b);
}

/** The plans to run: candidates in order, checked like a plan file, those the base predicts fit. */
export function choosePlans(model: ModelSpec, cluster: ClusterSpec, base: Profile, globalBatch: number, count: number): { plans: NamedPlan[]; skipped: string[] } {
  const input = prepareCostModel(model, cluster, { globalBatch, profile: base });
  const plans: NamedPlan[] = [];
  const skipped: string[] = [];
  for (const c of calibrationCandidates(model, cluster, globalBatch)) {
    if (plans.length >= count) break;
    checkPlan(c.plan, model, cluster, c.name);
    const r = estimatePlan(input, c.plan);
    if (r.feasible) plans.push(c);
    else skipped.push(c.name);
  }
  if (plans.length < 2) {
    throw new UniapError(
      'INFEASIBLE',
      `only ${plans.length} calibration plan(s) of ${model.name} fit ${cluster.name} at global batch ${globalBatch}${skipped.length ? ` (too large: ${skipped.join(', ')})` : ''}; pass a smaller --batch or a smaller --seq-length`,
    );
  }
  return { plans, skipped };
}

/** The datasheet profile calibrate starts from when the user gives none. */
export function datasheetBase(model: ModelSpec, cluster: ClusterSpec, globalBatch: number): Profile {
  return deriveSpecProfile(model, cluster, { microBatches: specMicroBatches(globalBatch), tpDegrees: tpDegreesFor(cluster, totalDevices(cluster), DEFAULT_COST_MODEL_OPTIONS) });
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrateResult> {
  const n = totalDevices(o.cluster);
  const base = o.base ?? datasheetBase(o.modelSpec, o.cluster, o.globalBatch);
  const { plans, skipped } = choosePlans(o.modelSpec, o.cluster, base, o.globalBatch, o.plans);
  const mask = heldOutMask(plans.length, o.heldOut ?? undefined);
  if (mask.every(Boolean)) throw new UniapError('CONFIG_INVALID', `--hold-out ${o.heldOut} leaves no plan of ${plans.length} to fit on; hold out fewer`);
  const measured = await measurePlans({ ...o, plans });
  const fit = fitCalibration(
    o.modelSpec,
    o.cluster,
    base,
    measured.map((m, i) => ({ name: m.name, plan: plans[i]!.plan, measuredMs: m.measuredMs, measuredMemoryBytes: m.measuredMemoryBytes, heldOut: mask[i]! })),
  );
  const record: CalibrationRecord = {
    date: new Date().toISOString(),
    tool: 'uniap calibrate',
    base: `${base.provenance.kind} on ${base.provenance.device} (${base.provenance.tool})`,
    timedSteps: o.steps - o.warmup,
    factors: fit.factors,
    plans: fit.plans,
    heldOut: fit.heldOut,
  };
  const calibrated = applyCalibration(base, fit.factors);
  const profile: Profile = {
    ...calibrated,
    provenance: {
      ...base.provenance,
      date: record.date,
      tool: `uniap calibrate of ${base.provenance.tool}`,
      notes: [...(base.provenance.notes ?? []), `calibrated on ${plans.length} plan(s) of ${o.modelSpec.name} run on ${o.cluster.name} (${n} device(s))`],
      calibration: record,
    },
  };
  return { profile, base, plans, measured, fit, skipped };
}
