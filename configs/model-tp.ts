// Tensor parallelism of one layer, defined once for the cost model, the datasheet and imported
// profiles, plan validation and the executor (which reads these facts through configs/model-facts.ts):
// how the layer splits over a tp group, which of its parameters split and which are replicated, the
// collectives the split costs, and which degrees are allowed.
//
// Megatron-LM (Shoeybi et al. 2019, sec. 3, fig. 3-4): attention splits heads (Q, K, V
// column-parallel with their biases, the output projection row-parallel), the MLP splits the FFN
// dimension (up/gate column-parallel with their biases, down row-parallel); the biases added after a
// row-parallel all-reduce, the norms and Swin's patch merging are replicated. Relative position bias
// tables split with the heads. The embedding and the head split the vocabulary (the head's output
// bias with it); position tables, the final norm and BERT's MLM transform are replicated. The patch
// embedding is replicated: a conv of c*p*p*h weights on the image, a small share of a vision model's
// compute, that every tp rank runs in full (no collective).
import type { LayerSpec } from './model-spec.ts';
import { dtypeBytes, headOutputBias, isPooledHead, kvWidth, layerStoredParameters, normParameters, qWidth } from './model-derive.ts';

/** How a layer splits over its tp group: Megatron's attention heads + FFN columns, the vocabulary, or not at all. */
export type TpSplit = 'heads-ffn' | 'vocabulary' | 'replicated';

export function layerTpSplit(l: LayerSpec): TpSplit {
  switch (l.type) {
    case 'embedding':
    case 'head':
      return 'vocabulary';
    case 'patch-embedding':
      return 'replicated';
    case 'encoder':
    case 'decoder':
    case 'cross-decoder':
    case 'swin':
      return 'heads-ffn';
  }
}

/** The layer's stored parameters (layerStoredParameters: its own plus a tied table's copy), split and replicated under tp. */
export interface TpParameters {
  /** Divided evenly over the tp ranks. */
  split: number;
  /** Held in full by every tp rank. */
  replicated: number;
}

export function layerTpParameters(l: LayerSpec): TpParameters {
  const stored = layerStoredParameters(l);
  const h = l.hiddenSize;
  let replicated: number;
  switch (l.type) {
    case 'embedding':
      replicated = l.positionEmbedding === 'learned' ? l.seqLength * h : 0;
      break;
    case 'patch-embedding':
      replicated = stored;
      break;
    case 'encoder':
    case 'decoder':
    case 'cross-decoder':
    case 'swin': {
      const attentions = l.type === 'cross-decoder' ? 2 : 1;
      const norms = l.type === 'cross-decoder' ? 3 : 2;
      const rowBiases = l.bias ? attentions * h + h : 0; // attention output and MLP down-projection biases
      const merge = l.type === 'swin' && l.patchMerging ? normParameters(l, 4 * l.inputHiddenSize) + 4 * l.inputHiddenSize * h : 0;
      replicated = norms * normParameters(l, h) + rowBiases + merge;
      break;
    }
    case 'head':
      replicated = stored - l.vocabSize * h - (headOutputBias(l) ? l.vocabSize : 0);
      break;
  }
  return { split: stored - replicated, replicated };
}

/** Parameters one rank of a tp group of degree `tp` holds for this layer (tp must be allowed: tpDivides). */
export function layerParametersPerTpRank(l: LayerSpec, tp: number): number {
  const p = layerTpParameters(l);
  return p.replicated + p.split / tp;
}

/** Whether the layer's compute is divided over the tp group (replicated layers run in full on every rank). */
export function tpSplitsCompute(l: LayerSpec): boolean {
  return layerTpSplit(l) !== 'replicated';
}

export interface TpCollectives {
  forwardAllReduces: number;
  backwardAllReduces: number;
  /** Bytes of each all-reduce per sample (multiply by the per-device micro-batch). */
  bytesPerSample: number;
}

/**
 * The collectives a tp split costs: a transformer block has one all-reduce after attention and one
 * after the MLP in forward (operator g) and two in backward (operator f), each of s*h*B bytes per
 * sample; a cross-decoder adds the cross-attention's pair: 3+3. Vocab-parallel embedding: one forward
 * all-reduce of the looked-up hidden states. LM head (vocab-parallel, fused cross entropy): the
 * logits stay split, one backward all-reduce of the input gradient (the cross entropy's max/sum
 * all-reduces of s*b*4 bytes are neglected). Pooled classifier: one backward all-reduce of the pooled
 * vector's gradient (B*h per sample). Replicated layers (patch embedding): none. With sequence
 * parallelism each all-reduce becomes a reduce-scatter + all-gather of the same bytes (Korthikanti et
 * al. 2022, sec. 4.2.2).
 */
export function layerTpCollectives(l: LayerSpec): TpCollectives {
  const B = dtypeBytes(l.dtype);
  const tokensBytes = l.seqLength * l.hiddenSize * B;
  switch (l.type) {
    case 'encoder':
    case 'decoder':
    case 'swin':
      return { forwardAllReduces: 2, backwardAllReduces: 2, bytesPerSample: tokensBytes };
    case 'cross-decoder':
      return { forwardAllReduces: 3, backwardAllReduces: 3, bytesPerSample: tokensBytes };
    case 'embedding':
      return { forwardAllReduces: 1, backwardAllReduces: 0, bytesPerSample: tokensBytes };
    case 'patch-embedding':
      return { forwardAllReduces: 0, backwardAllReduces: 0, bytesPerSample: 0 };
    case 'head':
      return { forwardAllReduces: 0, backwardAllReduces: 1, bytesPerSample: isPooledHead(l) ? l.hiddenSize * B : tokensBytes };
  }
}

/**
 * The numbers a tp degree must divide for this layer to split: attention heads, KV heads (Megatron-Core
 * splits query groups and asserts num_query_groups % tp == 0; it does not replicate KV heads) and FFN
 * columns; the vocabulary (or class count) for the embedding and head (Megatron pads instead,
 * --make-vocab-size-divisible-by; the GPT-3 presets are padded to 50304). Replicated layers: none.
 */
export function tpDivisors(l: LayerSpec): number[] {
  switch (layerTpSplit(l)) {
    case 'vocabulary':
      return [l.vocabSize];
    case 'replicated':
      return [];
    case 'heads-ffn':
      return [l.heads, l.kvHeads, l.ffnSize];
  }
}

/**
 * Whether the layer can run Megatron sequence parallelism (Korthikanti et al. 2022, sec. 4.2.2): a
 * transformer block whose norms, dropouts and residual adds run on a 1/tp slice of the sequence, with
 * an all-gather before each column-parallel input and a reduce-scatter after each row-parallel output
 * instead of the all-reduce. Swin blocks are left out (their windows and patch merging need the whole
 * image in place), as are the embedding and head (their boundary tensor is gathered anyway).
 */
export function layerSupportsSequenceParallel(l: LayerSpec): boolean {
  return l.type === 'encoder' || l.type === 'decoder' || l.type === 'cross-decoder';
}

/** Whether sequence parallelism at tp degree `tp` is allowed for this layer: tp > 1 divides the sequence too. */
export function sequenceParallelAllowed(l: LayerSpec, tp: number): boolean {
  return tp > 1 && layerSupportsSequenceParallel(l) && tpDivides(l, tp) && l.seqLength % tp === 0;
}

/**
 * Blocks with a context-parallel form (Ulysses, Jacobs et al. 2023): self-attention over the whole
 * sequence, so each rank can hold a slice of the sequence and exchange q, k, v for a slice of the heads.
 * Cross-attention (its keys come from another chain) and Swin's windowed attention are left out.
 */
export function layerSupportsContextParallel(l: LayerSpec): boolean {
  return l.type === 'encoder' || l.type === 'decoder';
}

/**
 * Whether context-parallel degree `cp` is allowed for this layer at tp: the sequence divides cp, and
 * for Ulysses ('a2a') so do the heads and KV heads each tp rank holds (every rank attends to whole
 * heads); ring attention ('p2p') splits no heads.
 */
export function contextParallelAllowed(l: LayerSpec, tp: number, cp: number, comm: 'a2a' | 'p2p' = 'a2a'): boolean {
  if (cp === 1) return true;
  if (!Number.isInteger(cp) || cp < 1 || !layerSupportsContextParallel(l) || !tpDivides(l, tp)) return false;
  if (l.seqLength % cp !== 0) return false;
  if (comm === 'p2p') return true;
  const heads = l.heads / tp;
  const kvHeads = (l.kvHeads || l.heads) / tp;
  return heads % cp === 0 && kvHeads % cp === 0;
}

/** Whether tp degree `tp` is allowed for this layer: a positive integer dividing every tpDivisors entry. */
export function tpDivides(l: LayerSpec, tp: number): boolean {
  if (!Number.isInteger(tp) || tp < 1) return false;
  return tpDivisors(l).every((n) => n % tp === 0);
}

