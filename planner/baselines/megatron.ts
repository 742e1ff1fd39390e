// Baseline (a): every Megatron-LM-style uniform configuration (Narayanan et al. 2021): pipeline
// degree pp = d, the same (dp, tp) on every layer with dp * tp = n / d, recomputation none,
// selective (`--recompute-granularity selective`) or full for the whole model, sequence parallelism
// (`--sequence-parallel`, tp > 1) on or off, context parallelism (`--context-parallel-size`, with
// `--cp-comm-type p2p`, ring attention, or `a2a`, Ulysses) of any degree the planner searches, the distributed optimizer (`--use-distributed-optimizer`,
// ZeRO-1) on or off, no ZeRO-2 and no FSDP (Megatron-LM's own trainer has neither), an even stage
// split (even-split.ts), 1F1B, and every micro-batch count. Like Megatron's flags, sp and selective
// recomputation apply to the layers that have them (transformer blocks; selective only where there
// is an attention core) and the other layers (embedding, head) run the same layout without them (and
// without cp: its ranks become data-parallel ranks there).
// Each is evaluated with the same cost model as the planner (evaluatePlacement).
import type { CostModelInput } from '../cost-model/input.ts';
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { configurations } from '../search/configurations.ts';
import { evenSplit } from './even-split.ts';
import { cpCommOf, cpDegree, gradDp, sameStrategy } from '../strategy.ts';

export interface UniformCandidate {
  stages: number;
  microBatches: number;
  dp: number;
  tp: number;
  recompute: boolean;
  selectiveRecompute: boolean;
  sp: boolean;
  /** Context-parallel degree of the transformer blocks (1: none). */
  cp: number;
  /** How cp attention communicates (Megatron-LM's --cp-comm-type). */
  cpComm: 'a2a' | 'p2p';
  /** ZeRO-1: Megatron's distributed optimizer. */
  distributedOptimizer: boolean;
  feasible: boolean;
  timePerIterationMs: number;
  placement: Placement;
}

/**
 * Per layer, strategy k where the layer allows it, else k without sp, else k without sp and selective
 * recomputation, else that on dp x cp data-parallel ranks without cp, else on dp x (tp x cp) (a layer
 * without those forms runs the same ranks plainly); undefined when some layer allows none of them.
 */
function uniformStrategy(t: CostTables, k: number): number[] | undefined {
  const s = t.strategies[k]!;
  const plain = { ...s, sp: false, selectiveRecompute: false, cp: 1, cpComm: undefined, dp: gradDp(s) };
  // Where the micro-batch has too few rows for dp x cp, the cp ranks split the vocabulary instead (tp x cp).
  const wide = { ...plain, dp: s.dp, tp: s.tp * cpDegree(s) };
  const variants = [s, { ...s, sp: false }, { ...s, sp: false, selectiveRecompute: false }, plain, wide].map((v) => t.strategies.findIndex((x) => sameStrategy(x, v)));
  const out: number[] = [];
  for (let u = 0; u < t.layers; u++) {
    const j = variants.find((v) => v >= 0 && t.allowed[u]![v]);
    if (j === undefined) return undefined;
    out.push(j);
  }
  return out;
}

/** Uniform strategies (optionally without FSDP, and up to a ZeRO stage) on a given split, each evaluated on `t`. */
export function uniformCandidates(t: CostTables, stageStart: number[], opts: { fsdp: boolean; maxZero?: 0 | 1 | 2 }): { k: number; feasible: boolean; timePerIterationMs: number; placement: Placement }[] {
  const out = [];
  for (let k = 0; k < t.strategies.length; k++) {
    const s = t.strategies[k]!;
    if (s.fsdp && !opts.fsdp) continue;
    if ((s.zero ?? 0) > (opts.maxZero ?? 2)) continue;
    const strategy = uniformStrategy(t, k);
    if (!strategy || !strategy.includes(k)) continue; // the knob must apply to some layer (else it repeats a plainer candidate)
    const placement = { stageStart, strategy };
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
      candidates.push({ stages: config.stages, microBatches: config.microBatches, dp: s.dp, tp: s.tp, recompute: s.recompute, selectiveRecompute: !!s.selectiveRecompute, sp: !!s.sp, cp: cpDegree(s), cpComm: cpCommOf(s), distributedOptimizer: s.zero === 1, ...c });
    }
  }
  const ok = candidates.filter((c) => c.feasible).sort((a, b) => a.timePerIterationMs - b.timePerIterationMs);
  return { candidates, feasible: ok.length, infeasible: candidates.length - ok.length, fastest: ok[0], slowest: ok[ok.length - 1] };
}
