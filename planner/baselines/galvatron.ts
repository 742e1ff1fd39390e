// Baseline (c): a Galvatron-style search (Miao et al. 2022, "Galvatron"; PKU-DAIR/Hetu-Galvatron):
// enumerate the pipeline degree and the micro-batch count, split the layers evenly over the stages
// (even-split.ts), and choose each layer's strategy (dp, tp, FSDP, recomputation) by a dynamic
// program under the memory budget. Galvatron discretizes memory; here the per-stage program is the
// exact solver restricted to the even split (solveExact with fixedStageStart), which can only make
// the baseline stronger. Same cost model and profile as the planner.
import type { CostModelInput } from '../cost-model/input.ts';
import type { Placement } from '../cost-model/tables.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { solveExact } from '../solvers/exact/exact.ts';
import { configurations, type Configuration } from '../search/configurations.ts';
import { evenSplit } from './even-split.ts';

export interface BaselinePlan {
  config: Configuration;
  placement: Placement;
  timePerIterationMs: number;
}

export async function galvatronBaseline(input: CostModelInput): Promise<{ best?: BaselinePlan; configurations: number }> {
  let best: BaselinePlan | undefined;
  const configs = configurations(input, { schedule: '1f1b' });
  for (const config of configs) {
    const t = buildCostTables(input, config);
    const r = await solveExact(t, { fixedStageStart: evenSplit(input.model, config.stages), upperBoundMs: best?.timePerIterationMs });
    if (r.placement && r.objectiveMs! < (best?.timePerIterationMs ?? Infinity)) best = { config, placement: r.placement, timePerIterationMs: r.objectiveMs! };
  }
  return { ...(best ? { best } : {}), configurations: configs.length };
}
