// The ModelSpec contract: what a model is, as plain typed data. Users write a ModelConfig (JSON,
// compact: repeated blocks given once with a count); `resolveModel` (configs/model-resolve.ts)
// validates it once and expands it into a ModelSpec: one entry per layer, every field required,
// plus the graph edges. Parameter counts, FLOPs and activation sizes are derived from the spec
// (configs/model-derive.ts), never typed in.

export const MODEL_SCHEMA_VERSION = 1;

export type DType = 'fp32' | 'fp16' | 'bf16';
export type Activation = 'gelu' | 'swiglu'; // gelu: 2 matrices (h->f->h); swiglu: 3 (gate, up, down)
export type Norm = 'layernorm' | 'rmsnorm';
export type PositionEmbedding = 'learned' | 'rope' | 'relative' | 'none';

/** Layer kinds of the graph. */
export type LayerType =
  | 'embedding' // token (+ learned position) embedding
  | 'patch-embedding' // vision: conv patchify (+ class token and position embedding)
  | 'encoder' // bidirectional self-attention + MLP block
  | 'decoder' // causal self-attention + MLP block (decoder-only models)
  | 'cross-decoder' // causal self-attention + cross-attention to the encoder output + MLP (T5)
  | 'swin' // Swin block: windowed self-attention + MLP at one resolution
  | 'head'; // final norm + LM head (vocab projection) or classifier

export type ModelFamily = 'decoder-only' | 'encoder-only' | 'encoder-decoder' | 'vision';

/** One fully resolved layer. Every field is required; fields that do not apply are 0/false. */
export interface LayerSpec {
  /** Position in the model's layer order (topological: encoder chain, then decoder chain). */
  index: number;
  type: LayerType;
  /** A readable name, e.g. "decoder.17". */
  name: string;
  /** Which chain the layer belongs to: 'encoder' or 'decoder' (decoder-only models: 'decoder'). */
  chain: 'encoder' | 'decoder';
  hiddenSize: number;
  /** Hidden size of the layer's input when it differs (Swin patch merging, T5 none); else = hiddenSize. */
  inputHiddenSize: number;
  ffnSize: number;
  activation: Activation;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Tokens per sample this layer processes (Swin: resolution^2; ViT: patches + class token). */
  seqLength: number;
  /** Keys each query attends to: seqLength, or windowSize^2 for Swin. */
  attentionSpan: number;
  /** Cross-decoder: tokens per sample of the encoder output it attends to; else 0. */
  encoderSeqLength: number;
  vocabSize: number; // embedding / LM head; classifier: number of classes; else 0
  norm: Norm;
  bias: boolean;
  /** Embeddings: their own scheme. Blocks: the chain's scheme when it acts inside attention
   * ('rope' rotates q and k, 'relative' adds T5's bucketed bias), else 'none'. Heads: 'none'. */
  positionEmbedding: PositionEmbedding;
  /** Swin: side of the token grid; else 0. */
  resolution: number;
  /** Swin: attention window side; else 0. */
  windowSize: number;
  /** Swin: this block starts with patch merging (4C -> 2C linear); else false. */
  patchMerging: boolean;
  /** patch-embedding: patch side, image side, input channels; else 0. */
  patchSize: number;
  imageSize: number;
  channels: number;
  /** head: weight tied to the embedding (no parameters of its own); head: MLM-style dense transform. */
  tiedEmbedding: boolean;
  headTransform: boolean;
  dtype: DType;
}

/** Data dependencies between layers (u -> v). Chains have (u, u+1); T5 adds encoder-out -> each cross-decoder. */
export interface Edge {
  from: number;
  to: number;
}

export interface ModelSpec {
  schemaVersion: typeof MODEL_SCHEMA_VERSION;
  name: string;
  family: ModelFamily;
  dtype: DType;
  layers: LayerSpec[];
  edges: Edge[];
  /** Where the spec came from: preset name, file path, or Hugging Face config path. */
  source: string;
}

// ---- The user-facing input (JSON files in configs/models/ and --model FILE) ----

/** A run of identical layers. Fields left out inherit from ModelConfig defaults. */
export interface BlockConfig {
  type: LayerType;
  count?: number; // default 1
  hiddenSize?: number;
  ffnSize?: number;
  activation?: Activation;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  seqLength?: number;
  vocabSize?: number;
  norm?: Norm;
  bias?: boolean;
  positionEmbedding?: PositionEmbedding;
  resolution?: number;
  windowSize?: number;
  patchMerging?: boolean;
  patchSize?: number;
  imageSize?: number;
  channels?: number;
  tiedEmbedding?: boolean;
  headTransform?: boolean;
}

export interface ModelConfig {
  schemaVersion?: number;
  name: string;
  family: ModelFamily;
  description?: string;
  dtype?: DType; // default bf16
  /** Defaults every block inherits. */
  hiddenSize?: number;
  ffnSize?: number;
  activation?: Activation;
  heads?: number;
  kvHeads?: number;
  seqLength?: number;
  vocabSize?: number;
  norm?: Norm;
  bias?: boolean;
  /** encoder-decoder: decoder sequence length (encoder uses seqLength). */
  decoderSeqLength?: number;
  /** Published parameter count, for reference only (tests compare the derived count with it). */
  publishedParameters?: number;
  /** Blocks in order. encoder-decoder: the encoder's blocks come first, then the decoder's. */
  blocks: BlockConfig[];
}
