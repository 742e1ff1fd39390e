// The cost model against every shipped set of published training measurements (tests/data/
// measurements/*.csv, sources and licenses in its README.md): per set, MAPE of time per iteration,
// Kendall tau and regret inside each model, the memory error, and runs called out of memory — first
// with the datasheet factors as they are (no factor fitted to any set: every set is a validation
// set), then leave one set out: the compute factor (planner/validation/fit.ts) fitted on the BF16
// sets other than S, and S reported with it. FP8 sets are validated but never fitted on (a BF16
// datasheet model scaled to FP8 runs would not be a BF16 model any more).
//
//   npx tsx bench/validation-report.ts [--rows] [--json]
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatReports, reportJson } from '../cli/validate.ts';
import { fitFactors, type FittedFactors } from '../planner/validation/fit.ts';
import { validateRuns } from '../planner/validation/report.ts';
import { loadRuns } from '../planner/validation/runs.ts';

const dir = resolve(import.meta.dirname, '../tests/data/measurements');
const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
const t0 = performance.now();
const runs = files.flatMap((f) => loadRuns(join(dir, f)).map((r) => ({ ...r, fp8: f.includes('fp8') })));
const reports = validateRuns(runs);
const sources = [...new Set(runs.map((r) => r.source))];
const bf16 = [...new Set(runs.filter((r) => !r.fp8).map((r) => r.source))];
const leaveOneOut = (which: FittedFactors) =>
  sources.map((s) => {
    const fitOn = bf16.filter((x) => x !== s);
    const fit = fitFactors(runs, fitOn, {}, which);
    const held = validateRuns(runs.filter((r) => r.source === s), { factors: fit.factors })[0]!;
    const before = reports.find((r) => r.source === s)!;
    return { source: s, fitOn, factors: fit.factors, mapeBefore: before.mape, mapeAfter: held.mape, meanRatioAfter: held.meanRatio };
  });
const loo = { compute: leaveOneOut('compute'), 'compute+collectives': leaveOneOut('compute+collectives') };
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ unfitted: reports.map(reportJson), leaveOneSetOut: loo }, null, 2) + '\n');
else {
  process.stdout.write(`${files.length} files: ${files.join(', ')}\n\nDatasheet factors, nothing fitted:\n`);
  process.stdout.write(formatReports(reports, process.argv.includes('--rows')) + '\n');
  for (const [which, rows] of Object.entries(loo)) {
    process.stdout.write(`\nLeave one set out, fitting ${which} on the other BF16 sets (the set itself is never used to fit):\n`);
    for (const r of rows) {
      process.stdout.write(
        `  ${r.source.padEnd(28)} MAPE ${(100 * r.mapeBefore).toFixed(1).padStart(5)}% -> ${(100 * r.mapeAfter).toFixed(1).padStart(5)}% (pred/meas ${r.meanRatioAfter.toFixed(2)}), ` +
          `compute x${r.factors.computeScale.toFixed(2)}, collective bandwidth /${r.factors.collectiveScale.toFixed(2)}, fitted on ${r.fitOn.join(', ') || '(nothing)'}\n`,
      );
    }
  }
  process.stdout.write(`\n${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
