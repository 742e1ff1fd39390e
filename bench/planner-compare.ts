// `uniap compare` over the model zoo (run: npx tsx bench/planner-compare.ts): the planner's predicted
// throughput as a ratio to each baseline's under the same cost model (Megatron-style uniform fastest
// and slowest, data parallel only, Galvatron-style), and the share of Megatron-style uniform
// configurations that run out of memory. Batch sizes as in bench/planner.ts (our choice).
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

const x = (v: number | undefined) => (v === undefined ? '   -  ' : `${v.toFixed(2)}x`.padStart(6));
let oomTotal = 0;
let megTotal = 0;
process.stdout.write('case                              uniap ms   vs Megatron fastest  slowest  DP-only  Galvatron   Megatron OOM\n');
for (const env of ENVS) {
  for (const [model, batch] of MODELS) {
    const name = `${model} @ ${env}`.padEnd(32);
    try {
      const c = await compareWithBaselines(prepareCostModel(loadModel(model), loadCluster(env), { globalBatch: batch }));
      const row = (n: string) => c.rows.find((r) => r.name === n)?.plannerSpeedup;
      const m = c.megatron;
      oomTotal += m.infeasible;
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
