// `uniap compare` over the model zoo (run: npx tsx bench/planner-compare.ts): the planner's predicted
// throughput as a ratio to each baseline's under the same cost model (Megatron-style uniform fastest
// and slowest, data parallel only, Galvatron-style), and the share of Megatron-style uniform
// configurations that run out of memory. Batch sizes as in bench/planner.ts (our choice).
// Then each Megatron knob by itself: the fastest uniform configuration with only full recomputation
// (round 1's Megatron), and with the distributed optimizer, sequence parallelism, selective
// recomputation, context parallelism, and all of them allowed, each as a speedup over round 1's Megatron, beside the
// planner's (so the share of the planner's gain that a hand-tuned Megatron could also reach shows).
import { loadModel } from '../configs/model-presets.ts';
import { loadCluster } from '../configs/cluster-presets.ts';
import { prepareCostModel } from '../planner/cost-model/input.ts';
import { compareWithBaselines } from '../planner/baselines/compare.ts';
import { isUniapError } from '../common/errors.ts';

const ENVS = ['paper-v100-1x8', 'paper-titanxp-2x4', 'paper-a100-1x8'];
const MODELS: [string, number][] = [
  ['bert-huge', 32],
  ['t5-large', 32],
  ['vit-huge', 128],
  ['swin-huge', 128],
  ['llama-2-7b', 8],
];

type Candidate = Awaited<ReturnType<typeof compareWithBaselines>>['megatron']['candidates'][number];
const KNOBS: [string, (c: Candidate) => boolean][] = [
  ['+dist-opt', (c) => !c.sp && !c.selectiveRecompute && c.cp === 1],
  ['+sp', (c) => !c.distributedOptimizer && !c.selectiveRecompute && c.cp === 1],
  ['+selective', (c) => !c.distributedOptimizer && !c.sp && c.cp === 1],
  ['+cp', (c) => !c.distributedOptimizer && !c.sp && !c.selectiveRecompute],
  ['all knobs', () => true],
];
const knobRows: string[] = [];
const x = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '   -  ' : `${v.toFixed(2)}x`.padStart(6));
let oomTotal = 0;
let megTotal = 0;
process.stdout.write('case                              uniap ms   vs Megatron fastest  slowest  DP-only  Galvatron   Megatron OOM\n');
// Beside the paper's zoo, 2026-sized cases where tensor parallelism is needed (small batch per GPU, long sequence).
const EXTRA: [string, string, number][] = [
  ['llama-2-70b', 'h100-4x8', 8],
  ['llama-2-70b', 'h100-4x8', 64],
  ['llama-2-13b', 'h100-1x8', 8],
  ['llama-3.1-8b-128k', 'h100-1x8', 1],
  ['llama-3.1-70b-128k', 'h100-4x8', 4],
];
const CASES: [string, string, number][] = [...ENVS.flatMap((env) => MODELS.map(([m, b]): [string, string, number] => [m, env, b])), ...EXTRA];
{
  for (const [model, env, batch] of CASES) {
    const name = `${model} @ ${env}`.padEnd(32);
    try {
      const c = await compareWithBaselines(prepareCostModel(loadModel(model), loadCluster(env), { globalBatch: batch }));
      const row = (n: string) => c.rows.find((r) => r.name === n)?.plannerSpeedup;
      const m = c.megatron;
      oomTotal += m.infeasible;
      const fastest = (keep: (c: Candidate) => boolean) => Math.min(...m.candidates.filter((c) => c.feasible && keep(c)).map((c) => c.timePerIterationMs));
      const round1 = fastest((c) => !c.distributedOptimizer && !c.sp && !c.selectiveRecompute && c.cp === 1);
      const ours = c.planner.plan.predictions!.timePerIterationMs;
      knobRows.push(`${name}  ${KNOBS.map(([, keep]) => x(round1 / fastest(keep)).padStart(10)).join('')}  ${x(round1 / ours).padStart(10)}`);
      megTotal += m.candidates.length;
      process.stdout.write(
        `${name}  ${c.planner.plan.predictions!.timePerIterationMs.toFixed(0).padStart(8)}   ${x(row('Megatron uniform, fastest'))}          ${x(row('Megatron uniform, slowest'))}  ${x(row('data parallel only'))}  ${x(row('Galvatron-style'))}    ${m.infeasible}/${m.candidates.length} (${((100 * m.infeasible) / Math.max(1, m.candidates.length)).toFixed(0)}%)\n`,
      );
    } catch (e) {
      if (!isUniapError(e) || e.code !== 'INFEASIBLE') throw e;
      process.stdout.write(`${name}  infeasible: ${e.message.slice(0, 90)}...\n`);
    }
  }
}
process.stdout.write(`\nMegatron-style uniform configurations out of memory over the zoo: ${oomTotal}/${megTotal} (${((100 * oomTotal) / megTotal).toFixed(0)}%)\n`);
process.stdout.write(`\nspeedup over round 1's Megatron (uniform, full recomputation only), Megatron with a knob / the planner ('-': round 1's Megatron, or Megatron with that knob, has no configuration that fits)\ncase                              ${KNOBS.map(([n]) => n.padStart(10)).join('')}     uniap\n${knobRows.join('\n')}\n`);
