// The validation report of one data set of measured runs: every run predicted by the cost model
// (predict.ts), then MAPE of time per iteration, Kendall's tau and regret inside each model, and the
// memory error where the set reports memory (metrics.ts).
import { UniapError } from '../../common/errors.ts';
import { kendallTau, mape, regret } from './metrics.ts';
import { predictRun, type PredictOptions, type RunPrediction } from './predict.ts';
import type { MeasuredRun } from './runs.ts';

export interface RunResult {
  run: MeasuredRun;
  prediction: RunPrediction | null;
  /** Why the run could not be predicted (a one-line UniapError message), or null. */
  error: string | null;
  /** predicted / measured time per iteration. */
  ratio: number | null;
}

export interface ModelGroup {
  model: string;
  runs: number;
  /** Kendall's tau-b of predicted vs measured throughput per GPU; NaN with fewer than 2 runs. */
  kendallTau: number;
  /** Measured best over measured of the predicted-best, minus 1. */
  regret: number;
}

export interface SetReport {
  source: string;
  runs: number;
  predicted: number;
  /** Mean absolute percentage error of time per iteration, as a fraction. */
  mape: number;
  /** Largest |predicted/measured - 1|. */
  maxError: number;
  /** Mean of predicted / measured (above 1: pessimistic). */
  meanRatio: number;
  groups: ModelGroup[];
  /** Mean absolute percentage error of peak memory per device, over runs that report it; null if none. */
  memoryMape: number | null;
  /** Runs measured as run that the cost model calls out of memory. */
  predictedOom: number;
  results: RunResult[];
}

const perGpuThroughput = (run: MeasuredRun, timeMs: number) => run.globalBatch / (timeMs / 1000) / run.gpus;

export function validateRuns(runs: readonly MeasuredRun[], opts: PredictOptions = {}): SetReport[] {
  const bySource = new Map<string, MeasuredRun[]>();
  for (const r of runs) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  const cache = new Map();
  return [...bySource].map(([source, list]) => {
    const results: RunResult[] = list.map((run) => {
      try {
        const prediction = predictRun(run, opts, cache);
        return { run, prediction, error: null, ratio: prediction.timeMs / run.timeMs };
      } catch (e) {
        if (!(e instanceof UniapError)) throw e;
        return { run, prediction: null, error: e.message, ratio: null };
      }
    });
    return summarize(source, results);
  });
}

export function summarize(source: string, results: RunResult[]): SetReport {
  const ok = results.filter((r): r is RunResult & { prediction: RunPrediction; ratio: number } => r.prediction !== null);
  const byModel = new Map<string, typeof ok>();
  for (const r of ok) byModel.set(r.run.model, [...(byModel.get(r.run.model) ?? []), r]);
  const groups: ModelGroup[] = [...byModel].map(([model, rs]) => {
    const predicted = rs.map((r) => perGpuThroughput(r.run, r.prediction.timeMs));
    const measured = rs.map((r) => perGpuThroughput(r.run, r.run.timeMs));
    return { model, runs: rs.length, kendallTau: kendallTau(predicted, measured), regret: regret(predicted, measured) };
  });
  const withMemory = ok.filter((r) => r.run.memoryBytes !== null);
  return {
    source,
    runs: results.length,
    predicted: ok.length,
    mape: mape(ok.map((r) => ({ predicted: r.prediction.timeMs, measured: r.run.timeMs }))),
    maxError: ok.length ? Math.max(...ok.map((r) => Math.abs(r.ratio - 1))) : NaN,
    meanRatio: ok.length ? ok.reduce((s, r) => s + r.ratio, 0) / ok.length : NaN,
    groups,
    memoryMape: withMemory.length ? mape(withMemory.map((r) => ({ predicted: r.prediction.memoryBytes, measured: r.run.memoryBytes! }))) : null,
    predictedOom: ok.filter((r) => !r.prediction.fits).length,
    results,
  };
}

/** Tau and regret over the groups that have at least two runs (a single run ranks nothing). */
export function rankedGroups(report: SetReport): ModelGroup[] {
  return report.groups.filter((g) => g.runs >= 2 && Number.isFinite(g.kendallTau));
}
