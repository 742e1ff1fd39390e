// Intra-layer strategy: how one layer is split over the g devices of its pipeline stage.
// dp * cp * tp = g. Ranks of a stage are laid out tp-innermost: local rank = (dpIndex * cp + cpIndex)
// * tp + tpIndex, so a TP group is tp consecutive ranks (inside one node whenever tp <= devices per
// node) and a CP group cp ranks with stride tp (planner/rank-layout.ts).

export interface Strategy {
  /** Data-parallel degree: the micro-batch is split dp ways. */
  dp: number;
  /** Tensor-parallel degree (Megatron column/row splits). */
  tp: number;
  /** Fully sharded data parallel (ZeRO-3) over the dp group: parameters, gradients and optimizer states sharded. */
  fsdp: boolean;
  /**
   * ZeRO stage of a layer that is not fully sharded (Rajbhandari et al. 2020, sec. 5): 1 shards the
   * optimizer states over the dp group (Megatron-LM's distributed optimizer), 2 also the gradients.
   * Absent: 0 (replicated). Only with dp > 1 and fsdp false; `zeroStage` folds fsdp in as stage 3.
   */
  zero?: 1 | 2;
  /** Activation recomputation: keep only the layer input, recompute the forward during backward. */
  recompute: boolean;
  /**
   * Selective recomputation (Korthikanti et al. 2022, sec. 5; Megatron-LM --recompute-granularity
   * selective): only the attention core (scores, softmax, weighted sum) is recomputed in backward and
   * its s x S tensors are not kept. Only with recompute false (full recomputation covers it).
   */
  selectiveRecompute?: boolean;
  /**
   * Megatron sequence parallelism over the tp group (Korthikanti et al. 2022, sec. 4.2.2): norms and
   * residuals on 1/tp of the sequence, all-gather + reduce-scatter in place of each tp all-reduce.
   * Only with tp > 1 on layers that support it (configs/model-tp.ts sequenceParallelAllowed).
   */
  sp?: boolean;
  /**
   * Context-parallel degree (Ulysses, Jacobs et al. 2023, arXiv 2309.14509): the g / dp ranks of one
   * row shard also split the sequence cp ways; attention all-to-alls q, k, v to whole sequences of
   * 1/cp of the heads and back. Parameters are replicated over cp (gradients summed over dp x cp, the
   * ZeRO/FSDP shards split dp x cp ways). Absent: 1. Only on layers that allow it
   * (configs/model-tp.ts contextParallelAllowed), and not together with sp.
   */
  cp?: number;
  /**
   * How attention under cp sees the whole sequence (Megatron-LM's --cp-comm-type): absent or 'a2a',
   * Ulysses' all-to-alls over heads; 'p2p', ring attention (Liu et al. 2023): K and V blocks passed
   * around the cp group, no heads constraint. Only with cp > 1.
   */
  cpComm?: 'a2a' | 'p2p';
}

/** The cp communication of a strategy ('a2a' when absent). */
export function cpCommOf(s: Strategy): 'a2a' | 'p2p' {
  return s.cpComm ?? 'a2a';
}

/** Context-parallel degree of a strategy (1 when absent). */
export function cpDegree(s: Strategy): number {
  return s.cp ?? 1;
}

/** Ranks that hold the same parameters and sum their gradients: dp x cp. */
export function gradDp(s: Strategy): number {
  return s.dp * cpDegree(s);
}

/** Recomputation granularity of a strategy, as Megatron-LM names it. */
export function recomputeGranularity(s: Strategy): 'none' | 'selective' | 'full' {
  return s.recompute ? 'full' : s.selectiveRecompute ? 'selective' : 'none';
}

/** The ZeRO stage of a strategy: 3 for FSDP, else its `zero` (0 when absent). */
export function zeroStage(s: Strategy): 0 | 1 | 2 | 3 {
  return s.fsdp ? 3 : (s.zero ?? 0);
}

export function strategyKey(s: Strategy): string {
  return `dp${s.dp}.tp${s.tp}${cpDegree(s) > 1 ? `.cp${s.cp}${s.cpComm === 'p2p' ? 'r' : ''}` : ''}${s.sp ? '.sp' : ''}${s.fsdp ? '.fsdp' : ''}${s.zero ? `.z${s.zero}` : ''}${s.recompute ? '.rc' : ''}${s.selectiveRecompute ? '.src' : ''}`;
}

export function sameStrategy(a: Strategy, b: Strategy): boolean {
  return (
    a.dp === b.dp &&
    a.tp === b.tp &&
    a.fsdp === b.fsdp &&
    (a.zero ?? 0) === (b.zero ?? 0) &&
    a.recompute === b.recompute &&
    !!a.selectiveRecompute === !!b.selectiveRecompute &&
    !!a.sp === !!b.sp &&
    cpDegree(a) === cpDegree(b) &&
    (cpDegree(a) === 1 || cpCommOf(a) === cpCommOf(b))
  );
}

/** How a strategy splits its input and output along the sequence: over tp (sp), over cp, or not. */
export function sequenceSplit(s: Strategy): 'sp' | 'cp' | undefined {
  return cpDegree(s) > 1 ? 'cp' : s.sp && s.tp > 1 ? 'sp' : undefined;
}

/** Whether two consecutive layers pass the sequence-split tensor as is (split the same way on the same groups). */
export function sequenceShardedBetween(a: Strategy, b: Strategy): boolean {
  const kind = sequenceSplit(a);
  return kind !== undefined && kind === sequenceSplit(b) && a.dp === b.dp && a.tp === b.tp && cpDegree(a) === cpDegree(b);
}

/** The layout of a strategy: what fixes its resharding and P2P costs (dp, tp, cp and sp). */
export function layoutKey(s: Strategy): string {
  return `${s.dp}x${s.tp}${cpDegree(s) > 1 ? `.cp${s.cp}` : ''}${s.sp ? '.sp' : ''}`;
}

/** "tp4 x dp2 +fsdp +recompute" for summaries. */
export function describeStrategy(s: Strategy): string {
  const parts = [`dp${s.dp}`, `tp${s.tp}`];
  if (cpDegree(s) > 1) parts.push(`cp${s.cp}${s.cpComm === 'p2p' ? ' ring' : ''}`);
  if (s.sp) parts.push('sp');
  if (s.fsdp) parts.push('fsdp');
  if (s.zero) parts.push(`zero${s.zero}`);
  if (s.recompute) parts.push('recompute');
  if (s.selectiveRecompute) parts.push('selective-recompute');
  return parts.join(' ');
}
