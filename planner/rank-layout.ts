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
 * Resharding groups between two data-parallel degrees small < large (large a multiple of small):
 * r = large / small ranks with stride g / large, the ranks whose large-dp shards make up one
 * small-dp shard.
 */
export function reshardGroups(firstRank: number, g: number, small: number, large: number): number[][] {
  return strideGroups(firstRank, g, large / small, g / large);
}
