// Baseline (a): every Megatron-LM-style uniform configuration (Narayanan et al. 2021): pipeline
// degree pp = d, the same (dp, tp) on every layer with dp * tp = n / d, recomputation on or off for
// the whole model, the distributed optimizer (`--use-distributed-optimizer`, ZeRO-1) on or off, no
// ZeRO-2 and no FSDP (Megatron-LM's own trainer has neither), an even
// stage split (even-split.ts), 1F1B, and every micro-batch count. Each is evaluated with the same
// cost model as the planner (evaluatePlacement).
import type { CostModelInput } from '../cost-model/input.ts';
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { configurations } from '../search/configurations.ts';
import { evenSplit } from './even-split.ts';

export interface UniformCandidate {
  stages: number;
  microBatches: number;
  dp: number;
  tp: number;
  recompute: boolean;
  /** ZeRO-1: Megatron's distributed optimizer. */
  distributedOptimizer: boolean;
  feasible: boolean;
  timePerIterationMs: number;
  placement: Placement;
}

/** Uniform strategies (optionally without FSDP, and up to a ZeRO stage) on a given split, each evaluated on `t`. */
export function uniformCandidates(t: CostTables, stageStart: number[], opts: { fsdp: boolean; maxZero?: 0 | 1 | 2 }): { k: number; feasible: boolean; timePerIterationMs: number; placement: Placement }[] {
  const out = [];
  for (let k = 0; k < t.strategies.length; k++) {
    const s = t.strategies[k]!;
    if (s.fsdp && !opts.fsdp) continue;
    if ((s.zero ?? 0) > (opts.maxZero ?? 2)) continue;
    if (!t.allowed.every((row) => row[k])) continue; // a uniform strategy must be valid for every layer
    const placement = { stageStart, strategy: new Array<number>(t.layers).fill(k) };
    const ev = evaluatePlacement(t, placement);
    out.push({ k, feasible: ev.feasible, timePerIterationMs: ev.timePerIterationMs, placement });
  }
  return out;
}

export interface MegatronResult {
  candidates: UniformCandidate[];
  feasible: number;
  infeasible: number;
  fastest?: UniformCandidate;
  slowest?: UniformCandidate;
}

export function megatronBaseline(input: CostModelInput): MegatronResult {
  const candidates: UniformCandidate[] = [];
  for (const config of configurations(input, { schedule: '1f1b' })) {
    const t = buildCostTables(input, config);
    for (const c of uniformCandidates(t, evenSplit(input.model, config.stages), { fsdp: false, maxZero: 1 })) {
      const s = t.strategies[c.k]!;
      candidates.push({ stages: config.stages, microBatches: config.microBatches, dp: s.dp, tp: s.tp, recompute: s.recompute, distributedOptimizer: s.zero === 1, ...c });
    }
  }
  const ok = candidates.filter((c) => c.feasible).sort((a, b) => a.timePerIterationMs - b.timePerIterationMs);
  return { candidates, feasible: ok.length, infeasible: candidates.length - ok.length, fastest: ok[0], slowest: ok[ok.length - 1] };
}
