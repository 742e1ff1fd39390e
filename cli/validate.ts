// `uniap validate --measurements runs.csv`: how well the cost model predicts training runs the user
// already made (or a published table): per data set, MAPE of time per iteration, Kendall's tau and
// regret inside each model, the memory error where memory is given (planner/validation/report.ts).
import type { CommandModule } from 'yargs';
import { COLUMNS, loadRuns } from '../planner/validation/runs.ts';
import { rankedGroups, validateRuns, type SetReport } from '../planner/validation/report.ts';
import { loadProfile } from '../profiler/profile-io.ts';
import { fitFactors, type FactorFit } from '../planner/validation/fit.ts';
import { fmtMs, fmtPercent, table, printJson } from './format.ts';

interface ValidateArgs {
  measurements: string[];
  profile?: string;
  'fit-on'?: string[];
  rows: boolean;
  json: boolean;
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate',
  describe: 'Compare the cost model with measured training runs: error of time per iteration, rank correlation and regret per model',
  builder: (y) =>
    y
      .option('measurements', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: `CSV or JSON file(s) of measured runs, one row per run. Columns: ${Object.entries(COLUMNS).map(([k, v]) => `${k} (${v})`).join('; ')}`,
      })
      .option('profile', { type: 'string', describe: 'Predict with this measured/imported profile instead of the datasheet-derived one' })
      .option('fit-on', {
        type: 'string',
        array: true,
        describe: 'Fit the compute and collective-bandwidth factors on these data sets (source column) first; the other sets are the validation',
      })
      .option('rows', { type: 'boolean', default: false, describe: 'Also print every run: measured, predicted and their ratio' })
      .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
      .example('uniap validate --measurements runs.csv', '')
      .example('uniap validate --measurements tests/data/measurements/torchtitan-h100.csv --rows', '') as never,
  handler: (argv) => {
    const runs = argv.measurements.flatMap((f) => loadRuns(f));
    const profile = argv.profile ? loadProfile(argv.profile) : undefined;
    const base = profile ? { profile } : {};
    const fit = argv['fit-on']?.length ? fitFactors(runs, argv['fit-on'], base) : null;
    const reports = validateRuns(runs, fit ? { ...base, factors: fit.factors } : base);
    if (argv.json) printJson(fit ? { fit, reports: reports.map((r) => ({ ...reportJson(r), role: fit.sources.includes(r.source) ? 'fit' : 'validation' })) } : reports.map(reportJson));
    else process.stdout.write((fit ? fitLine(fit) + '\n\n' : '') + formatReports(reports, argv.rows, fit?.sources) + '\n');
  },
};

export function reportJson(r: SetReport) {
  return {
    source: r.source,
    runs: r.runs,
    predicted: r.predicted,
    mape: r.mape,
    maxError: r.maxError,
    meanRatio: r.meanRatio,
    memoryMape: r.memoryMape,
    predictedOom: r.predictedOom,
    groups: r.groups,
    results: r.results.map((x) => ({
      where: x.run.where, model: x.run.model, gpus: x.run.gpus, tp: x.run.tp, pp: x.run.pp, dp: x.run.dp,
      microBatch: x.run.microBatch, globalBatch: x.run.globalBatch, measuredMs: x.run.timeMs,
      predictedMs: x.prediction?.timeMs ?? null, ratio: x.ratio, error: x.error,
    })),
  };
}

const num = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function fitLine(fit: FactorFit): string {
  return (
    `Factors fitted on ${fit.sources.join(', ')} (${fit.runs} runs, ${((fit.fitErrorFactor - 1) * 100).toFixed(1)}% rms log error there): ` +
    `compute x${fit.factors.computeScale.toFixed(3)}, collective bandwidth /${fit.factors.collectiveScale.toFixed(3)}. Sets marked (fit) are not validation.`
  );
}

export function formatReports(reports: SetReport[], rows: boolean, fitSources: readonly string[] = []): string {
  const out: string[] = [];
  out.push(
    table(
      ['data set', 'runs', 'MAPE', 'max error', 'pred/meas', 'tau (models)', 'worst regret', 'memory MAPE', 'predicted OOM'],
      reports.map((r) => {
        const g = rankedGroups(r);
        const taus = g.length ? `${num(Math.min(...g.map((x) => x.kendallTau)))}..${num(Math.max(...g.map((x) => x.kendallTau)))} (${g.length})` : '-';
        return [
          fitSources.includes(r.source) ? `${r.source} (fit)` : r.source, r.predicted === r.runs ? String(r.runs) : `${r.predicted} of ${r.runs}`, fmtPercent(r.mape), fmtPercent(r.maxError), num(r.meanRatio),
          taus, g.length ? fmtPercent(Math.max(...g.map((x) => x.regret))) : '-', r.memoryMape === null ? '-' : fmtPercent(r.memoryMape), String(r.predictedOom),
        ];
      }),
    ),
  );
  for (const r of reports) {
    const g = rankedGroups(r);
    if (g.length) {
      out.push('', `${r.source}, per model (throughput per GPU, predicted vs measured):`);
      out.push(table(['model', 'runs', 'Kendall tau', 'regret'], g.map((x) => [x.model, String(x.runs), num(x.kendallTau), fmtPercent(x.regret)])));
    }
    const failed = r.results.filter((x) => x.error);
    for (const f of failed) out.push(`not predicted: ${f.error}`);
    if (rows) {
      out.push('', `${r.source}, per run:`);
      out.push(
        table(
          ['row', 'model', 'gpus', 'tp', 'pp', 'dp', 'mb', 'gbs', 'measured', 'predicted', 'ratio'],
          r.results.map((x) => [
            x.run.where.replace(/^.*? (row|run) /, ''), x.run.model, String(x.run.gpus), String(x.run.tp), String(x.run.pp), String(x.run.dp),
            String(x.run.microBatch), String(x.run.globalBatch), fmtMs(x.run.timeMs), x.prediction ? fmtMs(x.prediction.timeMs) : '-', x.ratio === null ? '-' : num(x.ratio),
          ]),
        ),
      );
    }
  }
  out.push('', 'MAPE: mean |predicted - measured| / measured of time per iteration. tau: Kendall tau-b of throughput per GPU inside each model with 2+ runs. regret: measured best over the measured throughput of the predicted-best, minus 1.');
  return out.join('\n');
}
