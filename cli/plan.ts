// `uniap plan --model M --cluster C --batch B`: search the best plan (planner/search/search.ts) and
// print a summary — stages with layer ranges and ranks, per-layer strategies as runs, micro-batches,
// predicted time, throughput, MFU, memory per device against capacity, search time and proof — or the
// Plan JSON (--json); --out saves it for `uniap estimate` and `uniap launch`.
import type { CommandModule } from 'yargs';
import { savePlan } from '../planner/plan-io.ts';
import type { Plan } from '../planner/plan.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import { searchPlan, type SearchProgress } from '../planner/search/search.ts';
import { SOLVER_NAMES } from '../planner/solvers/index.ts';
import { describeStrategy } from '../planner/strategy.ts';
import { seqLengthLine, withPlanningOptions, planningInput, type PlanningArgs } from './inputs.ts';
import { parseIntList } from './profile.ts';
import { fmtBytes, fmtMs, fmtPercent, table, printJson } from './format.ts';

export interface PlanArgs extends PlanningArgs {
  json: boolean;
  schedule: 'gpipe' | '1f1b' | 'both';
  solver: string;
  'time-limit'?: number;
  gap: number;
  stages?: string;
  'micro-batches'?: string;
  out?: string;
}

export function withSearchOptions<T>(y: import('yargs').Argv<T>) {
  return y
    .option('schedule', { choices: ['gpipe', '1f1b', 'both'] as const, default: 'both' as const, describe: 'Pipeline schedule(s) to consider' })
    .option('solver', {
      choices: SOLVER_NAMES.filter((s) => s !== 'brute-force'),
      default: 'exact',
      describe: 'exact: structure-exploiting solver (fast, proves optimality); highs/glpk/lp-solver: the MIQP of record, warm-started by exact',
    })
    .option('time-limit', { type: 'number', describe: 'Seconds per MILP solve (highs, glpk, lp-solver)' })
    .option('gap', { type: 'number', default: 0, describe: 'Accept a plan within this relative gap of the proven bound' })
    .option('stages', { type: 'string', describe: 'Only these pipeline degrees, e.g. 1,2,4' })
    .option('micro-batches', { type: 'string', describe: 'Only these micro-batch counts, e.g. 8,16' })
    .check((a) => {
      const argv = a as unknown as PlanArgs;
      if (argv['time-limit'] !== undefined && !(argv['time-limit'] > 0)) throw new Error(`--time-limit must be positive seconds, got ${argv['time-limit']}`);
      if (!(argv.gap >= 0 && argv.gap < 1)) throw new Error(`--gap must be in [0, 1), got ${argv.gap}`);
      return true;
    });
}

/** Search options from the shared flags, with progress on stderr for searches longer than 2 s. */
export function searchOptionsFrom(argv: PlanArgs) {
  let lastPrint = 0;
  const onProgress = (p: SearchProgress) => {
    if (p.elapsedMs < 2000 || p.elapsedMs - lastPrint < 1000 || argv.json) return;
    lastPrint = p.elapsedMs;
    const best = p.bestMs !== undefined ? `, best ${fmtMs(p.bestMs)} per iteration` : '';
    process.stderr.write(`searching: ${p.done}/${p.total} configurations (${p.pruned} pruned)${best}, ${(p.elapsedMs / 1000).toFixed(1)} s\n`);
  };
  return {
    schedule: argv.schedule,
    solver: argv.solver,
    relGap: argv.gap,
    ...(argv['time-limit'] !== undefined ? { timeLimitMs: argv['time-limit'] * 1000 } : {}),
    ...(argv.stages ? { stages: parseIntList('stages', argv.stages) } : {}),
    ...(argv['micro-batches'] ? { microBatches: parseIntList('micro-batches', argv['micro-batches']) } : {}),
    onProgress,
  };
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan',
  describe: 'Find the fastest plan (pipeline stages, micro-batches, per-layer strategies) and prove it optimal for the cost model',
  builder: (y) =>
    withSearchOptions(withPlanningOptions(y, { batchRequired: true }))
      .option('out', { type: 'string', describe: 'Write the Plan JSON here (for `uniap estimate` and `uniap launch`)' })
      .example('uniap plan --model llama-2-7b --cluster h100-1x8 --batch 32 --out plan.json', '')
      .example('uniap plan --model bert-huge --cluster paper-v100-1x8 --batch 32 --solver highs --time-limit 60', '') as never,
  handler: async (argv) => {
    const input = planningInput(argv);
    const result = await searchPlan(input, searchOptionsFrom(argv));
    if (argv.out) savePlan(result.plan, argv.out);
    if (argv.json) {
      printJson(result.plan);
      // stdout stays one JSON document; what restricted the search goes to stderr.
      for (const n of result.notes) process.stderr.write(`uniap: note: ${n}\n`);
    } else {
      const notes = result.notes.map((n) => `Note: ${n}\n`).join('');
      process.stdout.write(formatPlan(result.plan, input.model) + '\n' + seqLengthLine(input.model, argv['seq-length']) + '\n' + notes + (argv.out ? `Plan written to ${argv.out}\n` : ''));
    }
  },
};

function layerNames(model: ModelSpec, [a, b]: [number, number]): string {
  const n = (u: number) => model.layers[u]?.name ?? String(u);
  return a === b ? n(a) : `${n(a)} .. ${n(b)}`;
}

export function formatPlan(plan: Plan, model: ModelSpec): string {
  const out: string[] = [];
  const p = plan.predictions!;
  const s = plan.search;
  out.push(
    `Plan: ${plan.model.name} on ${plan.cluster.name} (${plan.cluster.devices} devices), batch ${plan.globalBatch} = ${plan.microBatches} micro-batches x ${plan.microBatchSize}, ${plan.pipelineDegree} stage(s), ${plan.schedule}`,
  );
  out.push(`Predicted: ${fmtMs(p.timePerIterationMs)} per iteration, ${p.samplesPerSecond.toFixed(2)} samples/s, ${Math.round(p.tokensPerSecond)} tokens/s, MFU ${fmtPercent(p.mfu)}`);
  out.push('');
  const rows: string[][] = [];
  for (const st of plan.stages) {
    const mem = p.memoryPerStageBytes[st.index]!;
    st.strategies.forEach((r, j) => {
      rows.push([
        j === 0 ? String(st.index) : '',
        j === 0 ? `${st.ranks[0]}-${st.ranks[0] + st.ranks[1] - 1}` : '',
        `${r.layers[0]}-${r.layers[1]}`,
        layerNames(model, r.layers),
        describeStrategy(r),
        j === 0 ? `${fmtBytes(mem)} / ${fmtBytes(p.usableMemoryBytes)}` : '',
      ]);
    });
  }
  out.push(table(['stage', 'ranks', 'layers', 'names', 'strategy', 'memory per device'], rows));
  if (s) {
    out.push('');
    const proof =
      s.status === 'optimal'
        ? `proven optimal for the cost model by ${s.method} (bound ${fmtMs(s.boundMs)}, gap ${fmtPercent(s.gap)})`
        : `${s.status === 'time-limit' ? 'stopped at the time limit' : 'not proven'} (${s.method}; bound ${fmtMs(s.boundMs)}, gap ${fmtPercent(s.gap)})`;
    out.push(
      `Search: ${(s.searchTimeMs / 1000).toFixed(2)} s, ${s.configurationsTried + s.configurationsPruned} configurations (${s.configurationsTried} solved, ${s.configurationsPruned} pruned by bounds), ${proof}`,
    );
  }
  return out.join('\n');
}
