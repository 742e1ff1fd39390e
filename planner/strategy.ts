// Intra-layer strategy: how one layer is split over the g devices of its pipeline stage.
// dp * tp = g. Ranks of a stage are laid out tp-innermost: local rank = dpIndex * tp + tpIndex, so a
// TP group is tp consecutive ranks (inside one node whenever tp <= devices per node).

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
  return `dp${s.dp}.tp${s.tp}${s.sp ? '.sp' : ''}${s.fsdp ? '.fsdp' : ''}${s.zero ? `.z${s.zero}` : ''}${s.recompute ? '.rc' : ''}${s.selectiveRecompute ? '.src' : ''}`;
}

export function sameStrategy(a: Strategy, b: Strategy): boolean {
  return (
    a.dp === b.dp &&
    a.tp === b.tp &&
    a.fsdp === b.fsdp &&
    (a.zero ?? 0) === (b.zero ?? 0) &&
    a.recompute === b.recompute &&
    !!a.selectiveRecompute === !!b.selectiveRecompute &&
    !!a.sp === !!b.sp
  );
}

/** Whether two consecutive layers pass the sequence-split tensor as is (both sp on the same dp x tp groups). */
export function sequenceShardedBetween(a: Strategy, b: Strategy): boolean {
  return !!a.sp && !!b.sp && a.dp === b.dp && a.tp === b.tp;
}

/** "tp4 x dp2 +fsdp +recompute" for summaries. */
export function describeStrategy(s: Strategy): string {
  const parts = [`dp${s.dp}`, `tp${s.tp}`];
  if (s.sp) parts.push('sp');
  if (s.fsdp) parts.push('fsdp');
  if (s.zero) parts.push(`zero${s.zero}`);
  if (s.recompute) parts.push('recompute');
  if (s.selectiveRecompute) parts.push('selective-recompute');
  return parts.join(' ');
}
