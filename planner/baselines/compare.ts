// `uniap compare`: the planner's plan beside the baselines, all under the same cost model and profile:
// (a) every Megatron-style uniform configuration (megatron.ts), (b) data parallelism only
// (dp-only.ts), (c) a Galvatron-style search (galvatron.ts). The planner searches a superset of each
// baseline's space, so it can never be slower; a slower planner is a bug and raises SOLVER_FAILED.
import type { CostModelInput } from '../cost-model/input.ts';
import { UniapError } from '../../common/errors.ts';
import { searchPlan, type SearchOptions, type SearchResult } from '../search/search.ts';
import { megatronBaseline, type MegatronResult } from './megatron.ts';
import { dataParallelBaseline } from './dp-only.ts';
import { galvatronBaseline, type BaselinePlan } from './galvatron.ts';

export interface ComparisonRow {
  name: string;
  timePerIterationMs?: number;
  /** Planner throughput / this throughput (= this time / planner time); undefined when it has no plan. */
  plannerSpeedup?: number;
  detail: string;
}

export interface Comparison {
  planner: SearchResult;
  megatron: MegatronResult;
  dataParallel: { best?: BaselinePlan; tried: number; infeasible: number };
  galvatron: { best?: BaselinePlan; configurations: number };
  rows: ComparisonRow[];
}

export async function compareWithBaselines(input: CostModelInput, opts: SearchOptions = {}): Promise<Comparison> {
  const planner = await searchPlan(input, opts);
  const megatron = megatronBaseline(input);
  const dataParallel = dataParallelBaseline(input);
  const galvatron = await galvatronBaseline(input);
  const ours = planner.plan.predictions!.timePerIterationMs;
  const row = (name: string, ms: number | undefined, detail: string): ComparisonRow => ({
    name,
    ...(ms !== undefined ? { timePerIterationMs: ms, plannerSpeedup: ms / ours } : {}),
    detail,
  });
  const rows = [
    row('uniap (this planner)', ours, `${stages(planner.plan.pipelineDegree)}, ${planner.plan.microBatches} micro-batches, ${planner.plan.schedule}; ${planner.search.status} (${planner.search.method})`),
    row('Megatron uniform, fastest', megatron.fastest?.timePerIterationMs, megatron.fastest ? uniformText(megatron.fastest) : 'none fits'),
    row('Megatron uniform, slowest', megatron.slowest?.timePerIterationMs, megatron.slowest ? uniformText(megatron.slowest) : 'none fits'),
    row('data parallel only', dataParallel.best?.timePerIterationMs, dataParallel.best ? `dp ${input.cluster.nodes.reduce((s, n) => s + n.devices, 0)}, ${dataParallel.best.config.microBatches} micro-batches` : `none fits (${dataParallel.infeasible} of ${dataParallel.tried} out of memory)`),
    row('Galvatron-style', galvatron.best?.timePerIterationMs, galvatron.best ? `${stages(galvatron.best.config.stages)} (even split), ${galvatron.best.config.microBatches} micro-batches, per-layer strategies` : 'none fits'),
  ];
  for (const r of rows.slice(1)) {
    if (r.timePerIterationMs !== undefined && r.timePerIterationMs < ours * (1 - 1e-9)) {
      throw new UniapError('SOLVER_FAILED', `baseline "${r.name}" (${r.timePerIterationMs} ms) beats the planner (${ours} ms), whose search space contains it; please report this model and cluster`);
    }
  }
  return { planner, megatron, dataParallel, galvatron, rows };
}

function stages(d: number): string {
  return `${d} stage${d > 1 ? 's' : ''}`;
}

function uniformText(c: MegatronResult['fastest'] & object): string {
  return `pp ${c.stages}, dp ${c.dp}, tp ${c.tp}, ${c.microBatches} micro-batches${c.cp > 1 ? `, cp ${c.cp}${c.cpComm === 'p2p' ? ' (ring)' : ''}` : ''}${c.sp ? ', sequence parallel' : ''}${c.recompute ? ', recompute' : ''}${c.selectiveRecompute ? ', selective recompute' : ''}${c.distributedOptimizer ? ', distributed optimizer' : ''}`;
}
