// `uniap compare --model M --cluster C --batch B`: the planner's plan beside every Megatron-style
// uniform configuration, data parallelism only and a Galvatron-style search, all predicted with the
// same cost model and profile (planner/baselines/compare.ts).
import type { CommandModule } from 'yargs';
import { compareWithBaselines, type Comparison } from '../planner/baselines/compare.ts';
import { seqLengthLine, withPlanningOptions, planningInput } from './inputs.ts';
import { withSearchOptions, searchOptionsFrom, type PlanArgs } from './plan.ts';
import { fmtMs, fmtPercent, table, printJson } from './format.ts';

export const compareCommand: CommandModule<object, PlanArgs> = {
  command: 'compare',
  describe: "Compare the planner's plan with Megatron-style uniform configurations, data parallelism and a Galvatron-style search",
  builder: (y) =>
    withSearchOptions(withPlanningOptions(y, { batchRequired: true })).example('uniap compare --model llama-2-7b --cluster paper-a100-1x8 --batch 32', '') as never,
  handler: async (argv) => {
    const input = planningInput(argv);
    const c = await compareWithBaselines(input, searchOptionsFrom(argv));
    if (argv.json) printJson(comparisonJson(c));
    else process.stdout.write(formatComparison(c) + '\n' + seqLengthLine(input.model, argv['seq-length']) + '\n');
  },
};

export function comparisonJson(c: Comparison) {
  const m = c.megatron;
  return {
    plan: c.planner.plan,
    rows: c.rows,
    megatron: {
      configurations: m.candidates.length,
      infeasible: m.infeasible,
      infeasibleShare: m.candidates.length ? m.infeasible / m.candidates.length : 0,
      fastestToSlowest: m.fastest && m.slowest ? m.slowest.timePerIterationMs / m.fastest.timePerIterationMs : undefined,
    },
  };
}

export function formatComparison(c: Comparison): string {
  const plan = c.planner.plan;
  const m = c.megatron;
  const out: string[] = [];
  out.push(`${plan.model.name} on ${plan.cluster.name} (${plan.cluster.devices} devices), global batch ${plan.globalBatch}; one cost model and profile for all rows`);
  out.push('');
  out.push(
    table(
      ['method', 'time / iteration', 'samples/s', 'uniap speedup', 'configuration'],
      c.rows.map((r) => [
        r.name,
        r.timePerIterationMs !== undefined ? fmtMs(r.timePerIterationMs) : '-',
        r.timePerIterationMs !== undefined ? ((plan.globalBatch * 1000) / r.timePerIterationMs).toFixed(2) : '-',
        r.plannerSpeedup !== undefined ? `${r.plannerSpeedup.toFixed(2)}x` : '-',
        r.detail,
      ]),
    ),
  );
  out.push('');
  const share = m.candidates.length ? m.infeasible / m.candidates.length : 0;
  out.push(
    `Megatron-style uniform configurations (dp x tp x pp, micro-batches, recomputation on/off): ${m.candidates.length}, of which ${m.infeasible} (${fmtPercent(share)}) run out of memory` +
      (m.fastest && m.slowest ? `; the slowest that fits takes ${(m.slowest.timePerIterationMs / m.fastest.timePerIterationMs).toFixed(2)}x the fastest` : ''),
  );
  out.push(`Data parallel only: ${c.dataParallel.infeasible} of ${c.dataParallel.tried} micro-batch counts run out of memory. Galvatron-style: best of ${c.galvatron.configurations} configurations (1F1B).`);
  return out.join('\n');
}
