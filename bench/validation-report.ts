// The cost model against every shipped set of published training measurements (tests/data/
// measurements/*.csv, sources and licenses in its README.md): per set, MAPE of time per iteration,
// Kendall tau and regret inside each model, the memory error, and runs called out of memory. No
// factor of the cost model was fitted to these sets (none is fitted yet: every factor is a datasheet
// number or a cited default, profiler/spec-profile.ts), so every set is a validation set.
//
//   npx tsx bench/validation-report.ts [--rows] [--json]
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatReports, reportJson } from '../cli/validate.ts';
import { validateRuns } from '../planner/validation/report.ts';
import { loadRuns } from '../planner/validation/runs.ts';

const dir = resolve(import.meta.dirname, '../tests/data/measurements');
const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
const t0 = performance.now();
const reports = validateRuns(files.flatMap((f) => loadRuns(join(dir, f))));
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(reports.map(reportJson), null, 2) + '\n');
else {
  process.stdout.write(`${files.length} files: ${files.join(', ')}\n\n`);
  process.stdout.write(formatReports(reports, process.argv.includes('--rows')) + '\n');
  process.stdout.write(`\n${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
