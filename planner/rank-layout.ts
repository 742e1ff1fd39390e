// The rank layout of a pipeline stage, defined once: stage i owns global ranks [i*g, (i+1)*g), and
// inside a stage ranks are tp-innermost (local rank = dpIndex * tp + tpIndex, as Megatron-LM orders
// tensor-parallel ranks first). The cost model prices the groups these functions list and the
// executor (runtime/executor/uniap_exec/groups.py) creates the same groups; the cross-language test
// tests/rank-layout.conformance.test.ts checks that the two lists are equal.

/**
 * Groups of `size` ranks with stride `stride` inside a stage of `g` ranks starting at `firstRank`:
 * blocks of size*stride consecutive ranks, `stride` groups per block, members o + j*stride.
 */
export function strideGroups(firstRank: number, g: number, size: number, stride: number): number[][] {
  const groups: number[][] = [];
  const block = size * stride;
  for (let b = 0; b < g; b += block) {
    for (let o = 0; o < stride; o++) {
      const ranks: number[] = [];
      for (let j = 0; j < size; j++) ranks.push(firstRank + b + o + j * stride);
      groups.push(ranks);
    }
  }
  return groups;
}

/** Tensor-parallel groups of a (dp, tp) strategy: tp consecutive ranks. */
export function tpGroups(firstRank: number, g: number, tp: number): number[][] {
  return strideGroups(firstRank, g, tp, 1);
}

/** Data-parallel groups of a (dp, tp) strategy: dp ranks with stride tp (the same tpIndex). */
export function dpGroups(firstRank: number, g: number, dp: number): number[][] {
  return strideGroups(firstRank, g, dp, g / dp);
}

/**
 * Context-parallel groups of a (dp, cp, tp) strategy: cp ranks with stride tp (the same dpIndex and
 * tpIndex). With cp the layout is local rank = (dpIndex * cp + cpIndex) * tp + tpIndex: the ranks of
 * one row shard (g / dp of them, as for any layout of data-parallel degree dp) hold its cp sequence
 * slices, tp-innermost, so the data-parallel groups that synchronize gradients are those of dp * cp.
 */
export function cpGroups(firstRank: number, g: number, cp: number, tp: number): number[][] {
  return strideGroups(firstRank, g, cp, tp);
}

/** Greatest common divisor of two positive integers. */
export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Resharding activations inside a stage of g ranks between two data-parallel degrees a and b (any
 * two divisors of g; neither needs to divide the other). Derivation:
 *
 *   Under dp a (tp_a = g / a) local rank l holds micro-batch rows [i * B/a, (i+1) * B/a), i = floor(l / tp_a).
 *   Let h = gcd(a, b) and cut the stage into h blocks of g/h consecutive ranks. Block k holds, under
 *   dp a, the shards k*(a/h) .. (k+1)*(a/h) - 1, i.e. rows [k * B/h, (k+1) * B/h), and under dp b the
 *   same rows. So rows never leave their block: the exchange happens inside blocks of g/h ranks,
 *   each block owning B/h rows, split a' = a/h ways before and b' = b/h ways after (gcd(a', b') = 1).
 *
 * The executor (runtime/executor/uniap_exec/pipeline.py `reshard`) realizes it with all-gathers the
 * profile prices:
 *   forward:  all-gather the block's B/h rows over the a' ranks holding its distinct dp-a shards
 *             (a' ranks with stride tp_a: `shardGatherGroups(first, g, a, b)`), keep rows
 *             [(j mod b') * B/b, ...) of the new shard j = floor(l / tp_b);
 *   backward: the same with the roles swapped: all-gather the B/h gradient rows over the b' ranks
 *             with stride tp_b (every tp replica holds its rows' full gradient, Megatron's convention),
 *             keep this rank's B/a rows.
 *   time = AG(B/h rows of activations, a' ranks) + AG(B/h rows of gradients, b' ranks)
 * (planner/cost-model/build.ts). When b divides a (dp shrinks) b' = 1: the forward all-gather over
 * r = a/b ranks only; when a divides b (dp grows) a' = 1: a local slice forward and the all-gather in
 * backward — the two cases the planner always had. For coprime a', b' > 1 (e.g. dp 3 -> dp 2) the
 * all-gather moves (a'-1)/a' of the block's rows to every rank where an ideal all-to-all would move at
 * most the missing part of one B/b shard; the cost model prices what the executor runs.
 */
export function shardGatherGroups(firstRank: number, g: number, dp: number, other: number): number[][] {
  const h = gcd(dp, other);
  return strideGroups(firstRank, g, dp / h, g / dp);
}

/**
 * Resharding groups between two data-parallel degrees small < large with large a multiple of small:
 * r = large / small ranks with stride g / large, the ranks whose large-dp shards make up one
 * small-dp shard (`shardGatherGroups(first, g, large, small)`; the small side's groups are single ranks).
 */
export function reshardGroups(firstRank: number, g: number, small: number, large: number): number[][] {
  return shardGatherGroups(firstRank, g, large, small);
}
