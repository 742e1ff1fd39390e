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
  /** Activation recomputation: keep only the layer input, recompute the forward during backward. */
  recompute: boolean;
}

export function strategyKey(s: Strategy): string {
  return `dp${s.dp}.tp${s.tp}${s.fsdp ? '.fsdp' : ''}${s.recompute ? '.rc' : ''}`;
}

export function sameStrategy(a: Strategy, b: Strategy): boolean {
  return a.dp === b.dp && a.tp === b.tp && a.fsdp === b.fsdp && a.recompute === b.recompute;
}

/** "tp4 x dp2 +fsdp +recompute" for summaries. */
export function describeStrategy(s: Strategy): string {
  const parts = [`dp${s.dp}`, `tp${s.tp}`];
  if (s.fsdp) parts.push('fsdp');
  if (s.recompute) parts.push('recompute');
  return parts.join(' ');
}
