// Why stages keep equal device counts (run: npx tsx bench/stage-balance.ts): how much could unequal
// counts gain? For the planner's optimum at each pipeline degree d > 1, with stage times p_i and P2P
// times o_i (evaluate.ts), TPI = sum p + sum o + (c - 1) max(p, o). Giving stages unequal device
// counts can at best make every stage take the mean stage time (the same work spread perfectly over
// the same devices, no extra communication, linear scaling), so TPI can fall at most to
// sum p + sum o + (c - 1) max(mean p, max o). This prints the imbalance max p / mean p and that bound
// on the gain (TPI / ideal TPI), per case and pipeline degree: a gain the planner leaves on the
// table only if it exceeds what moving layers between equal stages already recovers. The last line
// per case compares the best plan over all d (equal stages) with the best ideal over d > 1: the most
// unequal counts could gain on that model and cluster.
import { loadModel } from '../configs/model-presets.ts';
import { loadCluster } from '../configs/cluster-presets.ts';
import { prepareCostModel } from '../planner/cost-model/input.ts';
import { searchPlan } from '../planner/search/search.ts';
import { evaluatePlacement } from '../planner/cost-model/evaluate.ts';
import { isUniapError } from '../common/errors.ts';

const CASES: [string, string, number][] = [
  ['llama-3-8b', 'h100-4x8', 64], // 128k vocabulary: the head weighs ~2.4 blocks
  ['llama-2-7b', 'h100-4x8', 64],
  ['gpt-3-13b', 'h100-4x8', 64],
  ['t5-large', 'paper-titanxp-2x4', 32],
  ['bert-huge', 'paper-titanxp-2x4', 32],
  ['llama-2-70b', 'h100-4x8', 64],
];

process.stdout.write('case                               d    c   max p / mean p   TPI ms   bound on the gain of unequal stages\n');
for (const [model, cluster, batch] of CASES) {
  const input = prepareCostModel(loadModel(model), loadCluster(cluster), { globalBatch: batch });
  let bestEqual = Number.POSITIVE_INFINITY;
  let bestIdeal = Number.POSITIVE_INFINITY;
  try {
    bestEqual = (await searchPlan(input, { schedule: '1f1b' })).plan.predictions!.timePerIterationMs;
  } catch (e) {
    if (!isUniapError(e)) throw e;
  }
  for (const d of [2, 4, 8]) {
    try {
      const r = await searchPlan(input, { stages: [d], schedule: '1f1b' });
      const ev = evaluatePlacement(r.tables, r.placement);
      const p = ev.stageTimeMs;
      const o = ev.p2pTimeMs;
      const c = r.tables.microBatches;
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const mean = sum(p) / p.length;
      const ideal = sum(p) + sum(o) + (c - 1) * Math.max(mean, ...o);
      bestIdeal = Math.min(bestIdeal, ideal);
      process.stdout.write(
        `${`${model} @ ${cluster}`.padEnd(34)} ${String(d).padStart(2)} ${String(c).padStart(4)}   ${(Math.max(...p) / mean).toFixed(3).padStart(14)}   ${ev.timePerIterationMs.toFixed(0).padStart(6)}   ${(ev.timePerIterationMs / ideal).toFixed(3)}x\n`,
      );
    } catch (e) {
      if (!isUniapError(e)) throw e;
      process.stdout.write(`${`${model} @ ${cluster}`.padEnd(34)} ${String(d).padStart(2)}   ${e.code}\n`);
    }
  }
  process.stdout.write(`${''.padEnd(34)} best plan (any d, equal stages) ${bestEqual.toFixed(0)} ms; best ideal unequal (d > 1) ${bestIdeal.toFixed(0)} ms: gain at most ${Math.max(1, bestEqual / bestIdeal).toFixed(3)}x\n`);
}
