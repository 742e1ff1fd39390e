// Calibration factors of a profile: what `uniap calibrate` fits on measured runs of the user's own
// cluster, and how a profile is rescaled by them. The calibrated profile is an ordinary Profile (the
// cost model does not know calibration exists); its provenance records the factors, the base
// profile, and the error on the plans that were and were not used for the fit.
//
// Each factor acts on one term of the cost model (planner/cost-model/layer-cost.ts):
//   computeScale     every layer's forward and backward time (kernel efficiency of this machine)
//   layerOverheadMs  added to every layer's forward and to its backward, per micro-batch: the fixed
//                    cost of running a layer at all (framework dispatch, kernel launches), which
//                    weighs most at small micro-batches
//   collectiveScale  every all-reduce / all-gather / reduce-scatter: bus bandwidth / s
//   latencyScale     their fixed cost per call, latency x s (small messages: Gloo on CPUs, or NCCL
//                    across nodes, pay far more per call than the datasheet's launch latency)
//   p2pScale         pipeline send/receive: latency x s, bandwidth / s
//   overlapSlowdown  replaces Profile.overlapSlowdown: the share of overlapped communication that
//                    slows the compute under it (contention for SMs, memory or, on CPUs, cores)
//   optimizerScale   the AdamW step: Profile.optimizerBandwidthGBps / s
//   reservedBytes    replaces Profile.device.reservedBytes: what the runtime holds per device beyond
//                    the cost model's model states, activations and working set (CUDA context, NCCL
//                    buffers, allocator caching; on CPUs the interpreter and torch itself)
import { UniapError } from '../common/errors.ts';
import type { Profile } from './profile.ts';

export interface CalibrationFactors {
  computeScale: number;
  layerOverheadMs: number;
  collectiveScale: number;
  latencyScale: number;
  p2pScale: number;
  overlapSlowdown: number;
  optimizerScale: number;
  reservedBytes: number;
}

/** One plan run for calibration: measured, and predicted by the base and the calibrated profile. */
export interface CalibrationPlanRecord {
  name: string;
  /** 'fit': used to fit the factors; 'held-out': only to report the error. */
  role: 'fit' | 'held-out';
  measuredMs: number;
  predictedBeforeMs: number;
  predictedAfterMs: number;
  /** Peak bytes of the fullest device, measured and predicted (predictions include reservedBytes). */
  measuredMemoryBytes: number;
  predictedMemoryBeforeBytes: number;
  predictedMemoryAfterBytes: number;
}

export interface CalibrationErrors {
  /** Mean absolute percentage error of time per iteration, as a fraction (0.08 = 8%). */
  timeMape: number;
  memoryMape: number;
  /** Kendall's tau of predicted vs measured time (1 = same order); absent for fewer than 2 plans. */
  kendallTau?: number;
}

export interface CalibrationRecord {
  date: string;
  tool: string;
  /** The profile that was calibrated: "derived on cpu (uniap spec-profile)", ... */
  base: string;
  /** Iterations timed per plan (after the warm-up ones). */
  timedSteps: number;
  factors: CalibrationFactors;
  plans: CalibrationPlanRecord[];
  /** Errors on the held-out plans, before and after calibration. */
  heldOut: { before: CalibrationErrors; after: CalibrationErrors };
}

export const IDENTITY_FACTORS: CalibrationFactors = {
  computeScale: 1,
  layerOverheadMs: 0,
  collectiveScale: 1,
  latencyScale: 1,
  p2pScale: 1,
  overlapSlowdown: 0,
  optimizerScale: 1,
  reservedBytes: 0,
};

/** The factors that leave `base` as it is (its own overlapSlowdown and reservedBytes). */
export function neutralFactors(base: Profile): CalibrationFactors {
  return { ...IDENTITY_FACTORS, overlapSlowdown: base.overlapSlowdown, reservedBytes: base.device.reservedBytes };
}

/** `base` with every number the factors act on rescaled; provenance untouched (the caller records the fit). */
export function applyCalibration(base: Profile, f: CalibrationFactors): Profile {
  for (const k of ['computeScale', 'collectiveScale', 'latencyScale', 'p2pScale', 'optimizerScale'] as const) {
    if (!(f[k] > 0) || !Number.isFinite(f[k])) throw new UniapError('CONFIG_INVALID', `calibration factor ${k} is ${f[k]}; it must be a positive number`);
  }
  if (!(f.layerOverheadMs >= 0)) throw new UniapError('CONFIG_INVALID', `calibration factor layerOverheadMs is ${f.layerOverheadMs}; it must be >= 0`);
  if (!(f.overlapSlowdown >= 0)) throw new UniapError('CONFIG_INVALID', `calibration factor overlapSlowdown is ${f.overlapSlowdown}; it must be >= 0`);
  const reservedBytes = Math.max(0, Math.min(Math.round(f.reservedBytes), base.device.capacityBytes - 1));
  const out: Profile = {
    ...base,
    device: { ...base.device, reservedBytes },
    overlapSlowdown: f.overlapSlowdown,
    layers: base.layers.map((e) => ({
      ...e,
      forwardMs: e.forwardMs * f.computeScale + f.layerOverheadMs,
      backwardMs: e.backwardMs * f.computeScale + f.layerOverheadMs,
    })),
    links: base.links.map((e) =>
      e.collective === 'p2p'
        ? { ...e, latencyMs: e.latencyMs * f.p2pScale, busBandwidthGBps: e.busBandwidthGBps / f.p2pScale }
        : { ...e, latencyMs: e.latencyMs * f.latencyScale, busBandwidthGBps: e.busBandwidthGBps / f.collectiveScale },
    ),
  };
  if (base.optimizerBandwidthGBps !== undefined) out.optimizerBandwidthGBps = base.optimizerBandwidthGBps / f.optimizerScale;
  return out;
}
