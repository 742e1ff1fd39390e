// `uniap estimate --model M --cluster C --plan plan.json`: evaluate any plan with the cost model.
import type { CommandModule } from 'yargs';
import { loadPlan } from '../planner/plan-io.ts';
import { checkPlan } from '../planner/plan-io.ts';
import { budgetNote, estimatePlan, optionsForPlan, type EstimateReport } from '../planner/estimate.ts';
import { UniapError } from '../common/errors.ts';
import type { Plan } from '../planner/plan.ts';
import { seqLengthLine, withPlanningOptions, planningInput, type PlanningArgs } from './inputs.ts';
import { fmtBytes, fmtMs, fmtPercent, table, printJson } from './format.ts';

interface EstimateArgs extends PlanningArgs {
  plan: string;
  json: boolean;
}

export const estimateCommand: CommandModule<object, EstimateArgs> = {
  command: 'estimate',
  describe: 'Evaluate a plan (searched or hand-written): time per iteration and memory per device with breakdowns',
  builder: (y) =>
    withPlanningOptions(y, { batchRequired: false })
      .option('plan', { type: 'string', demandOption: true, describe: 'Plan JSON (from `uniap plan --out`, or written by hand)' })
      .example('uniap estimate --model llama-2-7b --cluster h100-1x8 --plan plan.json', '') as never,
  handler: (argv) => {
    const plan = loadPlan(argv.plan);
    if (argv.batch !== undefined && argv.batch !== plan.globalBatch) {
      throw new UniapError('CONFIG_INVALID', `--batch ${argv.batch} differs from the plan's global batch ${plan.globalBatch}; leave --batch out (estimate evaluates the plan as written) or plan again with --batch ${argv.batch}`);
    }
    const memoryOverride = argv['memory-gb'] !== undefined ? { memoryBudgetBytes: argv['memory-gb'] * 1024 ** 3 } : {};
    const input = planningInput(argv, plan.globalBatch, (cluster) => optionsForPlan(plan, cluster, memoryOverride));
    checkPlan(plan, input.model, input.cluster, argv.plan);
    const report = estimatePlan(input, plan);
    const note = budgetNote(plan, report.memory[0]!.usableBytes, input.cluster.name, argv['memory-gb'] !== undefined);
    if (argv.json) {
      printJson(report);
      if (note) process.stderr.write(`uniap: note: ${note}\n`);
    } else process.stdout.write(formatEstimate(plan, report, input.model.name, input.cluster.name) + `\n${seqLengthLine(input.model, argv['seq-length'])}` + (note ? `\nNote: ${note}` : '') + '\n');
    if (!report.feasible) process.exitCode = 3;
  },
};

export function formatEstimate(plan: Plan, r: EstimateReport, modelName: string, clusterName: string): string {
  const out: string[] = [];
  const p = r.predictions;
  out.push(`Plan: ${modelName} on ${clusterName} (${plan.cluster.devices} devices), batch ${plan.globalBatch} = ${plan.microBatches} x ${plan.microBatchSize}, ${plan.pipelineDegree} stage(s), ${plan.schedule}`);
  out.push(`Time per iteration: ${fmtMs(r.timePerIterationMs)}  (compute ${fmtMs(r.breakdown.computeMs)}, exposed communication ${fmtMs(r.breakdown.exposedCommMs)}, pipeline bubble ${fmtMs(r.breakdown.bubbleMs)})`);
  out.push(`Throughput: ${p.samplesPerSecond.toFixed(2)} samples/s, ${Math.round(p.tokensPerSecond)} tokens/s, MFU ${fmtPercent(p.mfu)}`);
  out.push(`Bottleneck: ${r.bottleneck.kind === 'stage' ? `stage ${r.bottleneck.stage}` : `P2P after stage ${r.bottleneck.stage}`} at ${fmtMs(r.bottleneck.timeMs)} per micro-batch`);
  out.push('');
  out.push('Per stage, per micro-batch:');
  out.push(
    table(
      ['stage', 'layers', 'time', 'compute', 'TP comm', 'FSDP exp.', 'grad sync exp.', 'reshard', 'P2P out'],
      r.stages.map((s) => [
        String(s.stage), `${s.layers[0]}-${s.layers[1]}`, fmtMs(s.timeMs), fmtMs(s.computeMs), fmtMs(s.tpCommMs),
        fmtMs(s.fsdpExposedMs), fmtMs(s.gradSyncExposedMs), fmtMs(s.reshardMs), fmtMs(s.p2pMs),
      ]),
    ),
  );
  out.push('');
  out.push('Memory per device:');
  out.push(
    table(
      ['stage', 'weights', 'grads', 'optimizer', 'activations', 'workspace', 'total', 'usable', 'verdict'],
      r.memory.map((m) => [
        String(m.stage), fmtBytes(m.weightBytes), fmtBytes(m.gradientBytes), fmtBytes(m.optimizerBytes),
        `${fmtBytes(m.activationBytes)} (${m.inFlightMicroBatches} mb)`, fmtBytes(m.workspaceBytes), fmtBytes(m.totalBytes),
        fmtBytes(m.usableBytes), m.oom ? 'OOM' : 'fits',
      ]),
    ),
  );
  out.push(`(usable = capacity less ${fmtBytes(r.memory[0]?.reservedBytes ?? 0)} reserved for the CUDA context, NCCL buffers and allocator)`);
  if (!r.feasible) out.push(`\nDoes not fit: ${r.violations.join('; ')}`);
  return out.join('\n');
}
