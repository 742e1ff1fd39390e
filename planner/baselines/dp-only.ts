// Baseline (b): data parallelism only (PyTorch DDP; Li et al. 2020): one pipeline stage, every device
// a full replica (dp = n, tp = 1, no FSDP, no recomputation), gradient accumulation over c
// micro-batches; the fastest c that fits. Same cost model as the planner.
import type { CostModelInput } from '../cost-model/input.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { configurations } from '../search/configurations.ts';
import type { BaselinePlan } from './galvatron.ts';

export function dataParallelBaseline(input: CostModelInput): { best?: BaselinePlan; tried: number; infeasible: number } {
  let best: BaselinePlan | undefined;
  let tried = 0;
  let infeasible = 0;
  for (const config of configurations(input, { schedule: '1f1b', stages: [1] })) {
    const t = buildCostTables(input, config);
    const k = t.strategies.findIndex((s) => s.tp === 1 && !s.fsdp && !s.recompute);
    if (k < 0 || !t.allowed.every((row) => row[k])) continue; // micro-batch not divisible by n
    tried++;
    const placement = { stageStart: [0], strategy: new Array<number>(t.layers).fill(k) };
    const ev = evaluatePlacement(t, placement);
    if (!ev.feasible) {
      infeasible++;
      continue;
    }
    if (ev.timePerIterationMs < (best?.timePerIterationMs ?? Infinity)) best = { config, placement, timePerIterationMs: ev.timePerIterationMs };
  }
  return { ...(best ? { best } : {}), tried, infeasible };
}
