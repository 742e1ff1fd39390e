// Quantities derived from a ModelSpec, never typed in: parameters, FLOPs, activation bytes kept for
// backward, boundary tensors between pipeline stages, tensor-parallel collectives and divisibility.
//
// Notation: s tokens per sample (seqLength), b samples (micro-batch), h hidden size, a heads,
// k KV heads, d head dim, f FFN size, V vocabulary (or classes), S keys per query (attentionSpan),
// B bytes per element of the training dtype, t tensor-parallel degree.
//
// Parameter conventions (what a layer owns):
//   embedding        token table V*h (0 when tied to an earlier embedding, T5's decoder embedding)
//                    + learned position table s*h. BERT's token-type table and embedding LayerNorm
//                    (4h) are not modelled.
//   patch-embedding  conv c*p*p*h (+h bias); learned: class token h + position table s*h (ViT,
//                    Dosovitskiy et al. 2021 eq. 1). Swin's patch LayerNorm (2h) is not modelled.
//   block            attention Q h*(a*d), K and V h*(k*d) each, O (a*d)*h (+ biases a*d + 2k*d + h);
//                    MLP gelu 2*h*f (+ f + h), swiglu 3*h*f (+ 2f + h); two norms (layernorm 2h,
//                    rmsnorm h). cross-decoder: a second attention + a third norm. 'relative'
//                    positions: T5's bias table, 32 buckets x a heads (Raffel et al. 2020, sec. 2.1;
//                    relative_attention_num_buckets = 32 in google-research/text-to-text-transfer-
//                    transformer), one per self-attention block here, where T5 shares one per stack.
//                    swin: + relative position bias (2w-1)^2 * a (Liu et al. 2021 eq. 4) and, when
//                    merging, LayerNorm(4C_in) + Linear(4C_in -> h, no bias).
//   head             final norm h (BERT: the MLM transform's norm) + transform dense h*h (+h) when
//                    headTransform + projection h*V (0 when tied) + output bias V (headOutputBias).
//                    T5's encoder final norm (h) is not modelled. Per-layer `bias` is all-or-nothing:
//                    Qwen2's QKV-only biases (h + 2k*d per layer, <0.01%) are left out.
// The head of a vision model pools to one vector per sample (ViT class token, Swin average pool);
// LM heads project every token. `isPooledHead` is the one place that decides.
import type { DType, LayerSpec, ModelSpec } from './model-spec.ts';

export function dtypeBytes(d: DType): number {
  return d === 'fp32' ? 4 : 2;
}

/** Width of the attention's query/output space (a*d; equals h in standard models, not in GPT-3 13B). */
export function qWidth(l: LayerSpec): number {
  return l.heads * l.headDim;
}
export function kvWidth(l: LayerSpec): number {
  return l.kvHeads * l.headDim;
}
export function normParameters(l: LayerSpec, width: number): number {
  return l.norm === 'layernorm' ? 2 * width : width; // LayerNorm: gain + bias; RMSNorm: gain only
}

/**
 * A classifier head that pools to one vector per sample (vision models: encoder chain, not tied,
 * no MLM transform) rather than projecting every token. The LayerSpec has no field for this; the
 * rule is kept here so a future `pooled` field replaces exactly one function.
 */
export function isPooledHead(l: LayerSpec): boolean {
  return l.type === 'head' && l.chain === 'encoder' && !l.tiedEmbedding && !l.headTransform;
}

/**
 * Whether the head's vocabulary (or class) projection has a bias: a classifier's does (ViT,
 * google-research/vision_transformer `nn.Dense(num_classes)`), BERT's MLM decoder does
 * (transformers BertLMPredictionHead `bias`), an LM head does not (GPT-2's and Megatron-LM's output
 * layer, `lm_head = nn.Linear(..., bias=False)` in transformers' modeling_gpt2.py), whatever the
 * blocks' `bias`.
 */
export function headOutputBias(l: LayerSpec): boolean {
  return l.type === 'head' && l.bias && (isPooledHead(l) || l.headTransform);
}

/** Relative position bias tables: Swin's (2w-1)^2 x a per block (Liu et al. 2021, sec. 3.2), T5's 32 x a per self-attention. */
function relativeBiasParameters(l: LayerSpec): number {
  if (l.type === 'swin') return (2 * Math.min(l.windowSize, l.resolution) - 1) ** 2 * l.heads;
  if ((l.type === 'encoder' || l.type === 'decoder' || l.type === 'cross-decoder') && l.positionEmbedding === 'relative') return T5_BUCKETS * l.heads;
  return 0;
}
/** T5's relative_attention_num_buckets (Raffel et al. 2020). */
export const T5_BUCKETS = 32;

/** Swin patch merging: LayerNorm(4 C_in) + Linear(4 C_in -> C, no bias) (Liu et al. 2021, sec. 3.1). */
function patchMergeParameters(l: LayerSpec): number {
  return l.type === 'swin' && l.patchMerging ? normParameters(l, 4 * l.inputHiddenSize) + 4 * l.inputHiddenSize * l.hiddenSize : 0;
}

/** Matmul weights of one layer (every weight that takes part in a multiply-add; no biases, norms). */
function attentionWeights(l: LayerSpec): number {
  return 2 * l.hiddenSize * qWidth(l) + 2 * l.hiddenSize * kvWidth(l);
}
function mlpWeights(l: LayerSpec): number {
  return (l.activation === 'swiglu' ? 3 : 2) * l.hiddenSize * l.ffnSize;
}

export function layerParameters(l: LayerSpec): number {
  const h = l.hiddenSize;
  const attnBias = l.bias ? qWidth(l) + 2 * kvWidth(l) + h : 0;
  const mlpBias = l.bias ? (l.activation === 'swiglu' ? 2 : 1) * l.ffnSize + h : 0;
  const attention = attentionWeights(l) + attnBias;
  const mlp = mlpWeights(l) + mlpBias;
  const relBias = relativeBiasParameters(l);
  switch (l.type) {
    case 'embedding':
      return (l.tiedEmbedding ? 0 : l.vocabSize * h) + (l.positionEmbedding === 'learned' ? l.seqLength * h : 0);
    case 'patch-embedding': {
      const conv = l.channels * l.patchSize * l.patchSize * h + (l.bias ? h : 0);
      // Learned: class token (h) + position table over all tokens incl. the class token (s*h).
      return conv + (l.positionEmbedding === 'learned' ? h + l.seqLength * h : 0);
    }
    case 'encoder':
    case 'decoder':
      return attention + mlp + 2 * normParameters(l, h) + relBias;
    case 'cross-decoder':
      return 2 * attention + mlp + 3 * normParameters(l, h) + relBias;
    case 'swin':
      return attention + mlp + 2 * normParameters(l, h) + relBias + patchMergeParameters(l);
    case 'head':
      return (
        normParameters(l, h) +
        (l.headTransform ? h * h + (l.bias ? h : 0) : 0) +
        (l.tiedEmbedding ? 0 : h * l.vocabSize) +
        (headOutputBias(l) ? l.vocabSize : 0)
      );
  }
}

/**
 * Parameters a device running this layer holds: its own, plus the copy of a tied vocabulary table
 * (a tied head or T5's decoder embedding keeps a copy whose gradients are summed with the original's,
 * as Megatron-LM does for an LM head on the last pipeline stage). Memory and gradient sync use this;
 * parameter counts use layerParameters.
 */
export function layerStoredParameters(l: LayerSpec): number {
  const tiedTable = l.tiedEmbedding && (l.type === 'head' || l.type === 'embedding') ? l.vocabSize * l.hiddenSize : 0;
  return layerParameters(l) + tiedTable;
}

/** Parameters that are vocabulary or position embeddings (Kaplan et al. 2020, sec. 2.1). */
function embeddingParameters(l: LayerSpec): number {
  const h = l.hiddenSize;
  if (l.type === 'embedding') return layerParameters(l);
  if (l.type === 'patch-embedding') return l.positionEmbedding === 'learned' ? h + l.seqLength * h : 0;
  if (l.type === 'head' && !isPooledHead(l) && !l.tiedEmbedding) return h * l.vocabSize; // the unembedding
  return 0;
}

export function modelParameters(m: ModelSpec): number {
  return m.layers.reduce((s, l) => s + layerParameters(l), 0);
}

/**
 * Parameters excluding token and position embeddings and the untied LM-head projection (Kaplan et
 * al. 2020; Qwen2.5 reports 6.53B "non-embedding" of 7.61B this way). The ViT classifier stays.
 */
export function nonEmbeddingParameters(m: ModelSpec): number {
  return m.layers.reduce((s, l) => s + layerParameters(l) - embeddingParameters(l), 0);
}

/**
 * Forward FLOPs of one layer for one sample: 2 FLOPs per multiply-add of every matmul (LM head
 * included, tied or not), plus attention scores Q.K^T and the weighted sum of values, 2*s*S*(a*d)
 * each (Kaplan et al. 2020, table 1; Narayanan et al. 2021, appendix). Causal masking is not halved
 * (Megatron's convention). Norms, softmax, activations and biases are not counted.
 */
export function layerForwardFlopsPerSample(l: LayerSpec): number {
  const s = l.seqLength;
  const h = l.hiddenSize;
  const selfAttention = 2 * s * attentionWeights(l) + 2 * 2 * s * l.attentionSpan * qWidth(l);
  const mlp = 2 * s * mlpWeights(l);
  switch (l.type) {
    case 'embedding':
      return 0; // a table lookup
    case 'patch-embedding': {
      const patches = (l.imageSize / l.patchSize) ** 2;
      return 2 * patches * l.channels * l.patchSize * l.patchSize * h; // the patchify conv as a matmul
    }
    case 'encoder':
    case 'decoder':
      return selfAttention + mlp;
    case 'cross-decoder': {
      // Q and O on the decoder's s tokens, K and V on the encoder's S_enc tokens, scores s x S_enc.
      const e = l.encoderSeqLength;
      const cross = 2 * s * 2 * h * qWidth(l) + 2 * e * 2 * h * kvWidth(l) + 2 * 2 * s * e * qWidth(l);
      return selfAttention + cross + mlp;
    }
    case 'swin':
      return selfAttention + mlp + (l.patchMerging ? 2 * s * 4 * l.inputHiddenSize * h : 0);
    case 'head': {
      const rows = isPooledHead(l) ? 1 : s;
      return 2 * rows * h * l.vocabSize + (l.headTransform ? 2 * s * h * h : 0);
    }
  }
}

/**
 * Forward FLOPs of the attention core of one layer for one sample: the scores Q.K^T and the weighted
 * sum of values (2*s*S*(a*d) each; a cross-decoder adds its cross-attention's), the part selective
 * recomputation runs again (Korthikanti et al. 2022, sec. 5). By this count it is 2.7% of a GPT-3
 * 175B block's forward (s 2048, h 12288: 4s/(24h + 4s)).
 */
export function layerAttentionCoreFlopsPerSample(l: LayerSpec): number {
  const self = 2 * 2 * l.seqLength * l.attentionSpan * qWidth(l);
  switch (l.type) {
    case 'encoder':
    case 'decoder':
    case 'swin':
      return self;
    case 'cross-decoder':
      return self + 2 * 2 * l.seqLength * l.encoderSeqLength * qWidth(l);
    default:
      return 0;
  }
}

/**
 * Tokens per sample the model reads: the first layer's sequence (encoder-decoder: encoder + decoder
 * sequences). Vision models: patch tokens (+ class token).
 */
export function tokensPerSample(m: ModelSpec): number {
  const first = m.layers[0];
  if (!first) return 0;
  if (m.family !== 'encoder-decoder') return first.seqLength;
  const dec = m.layers.find((l) => l.chain === 'decoder');
  return first.seqLength + (dec?.seqLength ?? 0);
}

/**
 * Model FLOPs per training sample: forward + backward = 3x forward (backward computes gradients of
 * both inputs and weights), no recomputation (model FLOPs as in MFU, Chowdhery et al. 2022, app. B).
 * For a dense decoder this is, per token, 6*W + 12*L*(a*d)*s, where W counts the matmul weights of
 * the blocks and the LM head: Kaplan's 6N + 12*L*h*s with N the non-embedding parameters, up to
 * biases and norms (not matmuls) and the head's 6*V*h (Narayanan et al. 2021 eq. 3 includes it).
 */
export function modelFlopsPerSample(m: ModelSpec): number {
  return 3 * m.layers.reduce((s, l) => s + layerForwardFlopsPerSample(l), 0);
}

export function modelFlopsPerToken(m: ModelSpec): number {
  const tokens = tokensPerSample(m);
  return tokens > 0 ? modelFlopsPerSample(m) / tokens : 0;
}

export interface ActivationOptions {
  /** Megatron sequence parallelism: the tensors TP replicates are split t ways too. */
  sequenceParallel?: boolean;
  /** FlashAttention: no s x S attention matrices are kept (the softmax statistics, 4 bytes per row per head, are neglected). */
  flashAttention?: boolean;
  /**
   * Selective recomputation (Korthikanti et al. 2022, sec. 5; Megatron-LM --recompute-granularity
   * selective): the attention core (softmax, its dropout, the weighted sum) is recomputed in backward,
   * so its s x S tensors are not kept either; Q, K and V are.
   */
  selectiveRecompute?: boolean;
}

/**
 * Bytes one device keeps from forward for backward, for one micro-batch of `microBatch` samples at
 * TP degree `tp`. Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer
 * Models", sec. 4.1-4.2), term by term, with B bytes per element and 1-byte dropout masks:
 *   attention: norm input B*sbh, QKV input B*sbh, Q B*s*b*a*d, K and V B*s*b*k*d each (GQA: k*d),
 *              softmax output B*a*s*S*b, its dropout mask a*s*S*b, the dropout output B*a*s*S*b,
 *              output-projection input B*s*b*a*d, residual dropout mask sbh;
 *   MLP:       norm input B*sbh, MLP input B*sbh, gelu: f-wide input and output 2*B*sbf;
 *              swiglu: gate and up outputs, silu output and their product 4*B*sbf; dropout mask sbh.
 * Standard block (B=2, f=4h, k=a, d=h/a, S=s): 34sbh + 5as^2b. With TP t the 10sbh of norms, inputs
 * and masks are replicated and the rest is split: sbh(10 + 24/t + 5as/(ht)); sequence parallelism
 * also splits the replicated part: sbh/t (34 + 5as/h). FlashAttention and selective recomputation
 * drop the (2B+1)asSb term.
 * Cross-decoder: a second attention whose queries are the s decoder tokens and whose K, V span the
 * S_enc encoder tokens; the encoder output it reads is one tensor shared by all cross-decoders and
 * counted once (boundaryActivationBytes), not per layer. Swin: S = window^2; patch merging keeps its
 * LayerNorm input and linear input, 2 * B*s*b*4C_in. Embedding: token ids (int64, 8 bytes) and the
 * embedding dropout mask sbh. Patch embedding: the input image B*b*c*img^2 and the dropout mask.
 * LM head (sec. 4.3): final norm input B*sbh, projection input B*sbh, fp32 logits for the cross
 * entropy 4*s*b*V split t ways (vocab-parallel); an MLM transform adds its dense and GELU inputs
 * 2*B*sbh. Pooled classifier: norm input B*sbh, pooled vector B*bh, fp32 logits 4*b*V.
 */
export function layerActivationBytes(l: LayerSpec, microBatch: number, tp: number, opts: ActivationOptions = {}): number {
  const B = dtypeBytes(l.dtype);
  const b = microBatch;
  const s = l.seqLength;
  const h = l.hiddenSize;
  const split = 1 / tp; // tensors Megatron's column/row splits divide across the TP group
  const rep = opts.sequenceParallel ? 1 / tp : 1; // tensors TP replicates (split by sequence parallelism)
  const sbh = s * b * h;

  // One attention sub-layer with q query tokens attending to S keys over kvTokens key/value tokens.
  const attention = (q: number, span: number, kvTokens: number): number => {
    const replicated = 2 * B * q * b * h + q * b * h; // norm input, QKV input; residual dropout mask
    const qkv = B * q * b * qWidth(l) + 2 * B * kvTokens * b * kvWidth(l);
    const core = opts.flashAttention || opts.selectiveRecompute ? 0 : (2 * B + 1) * l.heads * q * span * b;
    const proj = B * q * b * qWidth(l);
    return replicated * rep + (qkv + core + proj) * split;
  };
  const mlp = (): number => {
    const replicated = 2 * B * sbh + sbh; // norm input, MLP input; dropout mask
    const wide = (l.activation === 'swiglu' ? 4 : 2) * B * s * b * l.ffnSize;
    return replicated * rep + wide * split;
  };

  switch (l.type) {
    case 'embedding':
      return 8 * s * b + sbh * rep;
    case 'patch-embedding':
      return B * b * l.channels * l.imageSize * l.imageSize + sbh * rep;
    case 'encoder':
    case 'decoder':
      return attention(s, l.attentionSpan, s) + mlp();
    case 'cross-decoder':
      return attention(s, l.attentionSpan, s) + attention(s, l.encoderSeqLength, l.encoderSeqLength) + mlp();
    case 'swin': {
      const merge = l.patchMerging ? 2 * B * s * b * 4 * l.inputHiddenSize * rep : 0;
      return attention(s, l.attentionSpan, s) + mlp() + merge;
    }
    case 'head': {
      if (isPooledHead(l)) return (B * sbh + B * b * h) * rep + 4 * b * l.vocabSize * split;
      const kept = (2 + (l.headTransform ? 2 : 0)) * B * sbh;
      return kept * rep + 4 * s * b * l.vocabSize * split;
    }
  }
}

/**
 * What full recomputation keeps of a layer: its input (Korthikanti et al. 2022, sec. 5: 2sbh in
 * 16-bit), B*s*b*inputHidden. A Swin block that merges patches reads 4x as many tokens of the
 * narrower width (4s tokens of C_in); an embedding reads int64 token ids; a patch embedding the image.
 */
export function layerInputBytes(l: LayerSpec, microBatch: number): number {
  const B = dtypeBytes(l.dtype);
  const b = microBatch;
  if (l.type === 'embedding') return 8 * l.seqLength * b;
  if (l.type === 'patch-embedding') return B * b * l.channels * l.imageSize * l.imageSize;
  const tokens = l.type === 'swin' && l.patchMerging ? 4 * l.seqLength : l.seqLength;
  return B * tokens * b * l.inputHiddenSize;
}

/** Bytes of the tensor a layer passes on (hidden states B*s*b*h); a head's output is the loss. */
export function layerOutputBytes(l: LayerSpec, microBatch: number): number {
  return l.type === 'head' ? 0 : dtypeBytes(l.dtype) * l.seqLength * microBatch * l.hiddenSize;
}

const NOT_SHAPE = new Set(['index', 'name', 'chain']);

/**
 * Canonical key of every shape field (all LayerSpec fields except index, name and chain), so the 80
 * identical decoder blocks of Llama-2-70B share one key and one profile entry.
 */
export function layerShapeKey(l: LayerSpec): string {
  const rec = l as unknown as Record<string, unknown>;
  const fields = Object.keys(rec)
    .filter((k) => !NOT_SHAPE.has(k) && k !== 'type')
    .sort()
    .map((k) => `${k}=${String(rec[k])}`);
  return `${l.type}:${fields.join(',')}`;
}

/**
 * Bytes of every tensor produced at or before layer u and consumed after it, for one micro-batch:
 * the chain output of u, plus the encoder output while cross-decoders remain after the cut
 * (one tensor per producer, however many consumers). This is what a pipeline boundary after u
 * sends forward (and its gradient backward).
 */
export function boundaryActivationBytes(m: ModelSpec, u: number, microBatch: number): number {
  const producers = new Set<number>();
  for (const e of m.edges) if (e.from <= u && e.to > u) producers.add(e.from);
  let bytes = 0;
  for (const p of producers) bytes += layerOutputBytes(m.layers[p]!, microBatch);
  return bytes;
}

/** Whether the layer's self-attention is causal (decoder blocks; T5's cross-decoders too). */
export function layerIsCausal(l: LayerSpec): boolean {
  return l.type === 'decoder' || l.type === 'cross-decoder';
}
