// Megatron-style stage split (Shoeybi et al. 2019; Narayanan et al. 2021): transformer blocks divided
// as evenly as possible over the pipeline stages (earlier stages take the remainder), embeddings on
// the first stage, the head on the last. Used by the Megatron and Galvatron-style baselines and as
// the search's first incumbent.
import type { ModelSpec } from '../../configs/model-spec.ts';

/** stageStart of the even split of `model` into `d` non-empty stages. */
export function evenSplit(model: ModelSpec, d: number): number[] {
  const L = model.layers.length;
  const isBlock = (u: number) => !['embedding', 'patch-embedding', 'head'].includes(model.layers[u]!.type);
  const blocks = model.layers.map((_, u) => u).filter(isBlock);
  const spread = (items: number[]): number[] => {
    const starts: number[] = [];
    let at = 0;
    for (let i = 0; i < d; i++) {
      starts.push(items[at]!);
      at += Math.floor(items.length / d) + (i < items.length % d ? 1 : 0);
    }
    return starts;
  };
  if (blocks.length < d) return spread(model.layers.map((_, u) => u));
  const starts = spread(blocks);
  starts[0] = 0; // leading embeddings join the first stage; a trailing head joins the last by construction
  if (starts.some((s, i) => i > 0 && s <= starts[i - 1]!) || starts.length !== d || L < d) return spread(model.layers.map((_, u) => u));
  return starts;
}
