// Fitting the cost model's factors to published measurements, on some data sets only, so that the
// others stay validation sets (report.ts reports them as such). The factors are the calibration
// factors (profiler/calibration.ts) that a table of runs can tell apart: compute (kernel efficiency
// of the real software stack against the datasheet's) and collective bandwidth (NCCL's achieved bus
// bandwidth against the datasheet's). Reserved memory is not fitted here (the memory the sets report
// is a peak of PyTorch's allocator, which the datasheet model already estimates; report.ts gives its
// error). Objective: mean squared log error of time per iteration over the fit runs, Nelder-Mead
// (planner/calibration/nelder-mead.ts), as `uniap calibrate` does on the user's own runs.
import { UniapError } from '../../common/errors.ts';
import { IDENTITY_FACTORS, type CalibrationFactors } from '../../profiler/calibration.ts';
import { nelderMead } from '../calibration/nelder-mead.ts';
import { predictRun, type PredictOptions } from './predict.ts';
import type { MeasuredRun } from './runs.ts';

export interface FactorFit {
  factors: CalibrationFactors;
  /** The data sets the factors were fitted on, and how many of their runs could be predicted. */
  sources: string[];
  runs: number;
  /** exp(root mean squared log error) on the fit runs: 1.05 = about 5% off. */
  fitErrorFactor: number;
}

/** Which factors to fit: compute alone, or compute and collective bandwidth. */
export type FittedFactors = 'compute' | 'compute+collectives';

export function fitFactors(runs: readonly MeasuredRun[], sources: readonly string[], opts: PredictOptions = {}, which: FittedFactors = 'compute'): FactorFit {
  const known = new Set(runs.map((r) => r.source));
  for (const s of sources) {
    if (!known.has(s)) throw new UniapError('CONFIG_INVALID', `--fit-on ${s}: no data set of that name in the measurements; use one of ${[...known].join(', ')}`);
  }
  const cache = new Map();
  const fitRuns = runs.filter((r) => sources.includes(r.source)).filter((r) => {
    try {
      predictRun(r, opts, cache);
      return true;
    } catch (e) {
      if (e instanceof UniapError) return false;
      throw e;
    }
  });
  if (fitRuns.length === 0) throw new UniapError('CONFIG_INVALID', `--fit-on ${sources.join(',')}: none of its runs can be predicted, so nothing to fit on`);
  const factorsOf = (x: number[]): CalibrationFactors => ({ ...IDENTITY_FACTORS, computeScale: Math.exp(x[0]!), collectiveScale: Math.exp(x[1] ?? 0) });
  const objective = (x: number[]): number => {
    if (x.some((v) => Math.abs(v) > 5)) return 1e9;
    const f = factorsOf(x);
    let sum = 0;
    for (const r of fitRuns) sum += Math.log(predictRun(r, { ...opts, factors: f }, cache).timeMs / r.timeMs) ** 2;
    // A weak prior keeps collective bandwidth at the datasheet's when no fit run depends on it.
    return sum / fitRuns.length + 1e-5 * x.reduce((a, v) => a + v * v, 0);
  };
  const best = nelderMead(objective, which === 'compute' ? [0] : [0, 0], { step: 0.3, maxIterations: 300 });
  return { factors: factorsOf(best.x), sources: [...sources], runs: fitRuns.length, fitErrorFactor: Math.exp(Math.sqrt(Math.max(0, best.value))) };
}
