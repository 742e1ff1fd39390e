// The resolved model facts that Python reads instead of re-deriving them: per layer, the parameters
// it holds and how they split over tensor parallelism, the tokens it processes, its position scheme,
// how a head pools, whether its projection has a bias, and which vocabulary table it shares. Written
// into the model JSON handed to the executor and the profiler (`withFacts`); every value comes from
// the one TypeScript definition the cost model uses (model-derive.ts, model-tp.ts), and the
// cross-language conformance test (tests/model-facts.conformance.test.ts) checks that the layers
// Python builds hold exactly these parameters. Like Megatron-Core's TransformerConfig: one config,
// read by estimation and execution alike.
import type { LayerSpec, LayerType, ModelSpec, PositionEmbedding } from './model-spec.ts';
import { headOutputBias, isPooledHead, layerIsCausal, layerParameters, layerStoredParameters, tokensPerSample } from './model-derive.ts';
import { layerSupportsContextParallel, layerSupportsSequenceParallel, layerTpParameters, layerTpSplit, tpDivisors, type TpSplit } from './model-tp.ts';

export const MODEL_FACTS_VERSION = 3;

export interface LayerTpFacts {
  split: TpSplit;
  /** A tp degree must divide each of these (empty: any degree, the layer is replicated). */
  divisors: number[];
  /** Stored parameters divided over the tp ranks, and held in full by each. */
  splitParameters: number;
  replicatedParameters: number;
  /** The layer can run sequence parallelism with tp (layerSupportsSequenceParallel; the sequence must divide tp too). */
  sequenceParallel: boolean;
  /** The layer has a context-parallel (Ulysses) form (layerSupportsContextParallel; heads per tp rank and the sequence must divide cp). */
  contextParallel: boolean;
}

export interface HeadFacts {
  /** 'none': a logit per token (LM / MLM head); 'cls': the class token's; 'mean': the token average (Swin). */
  pooling: 'none' | 'cls' | 'mean';
  outputBias: boolean;
  transform: boolean;
}

export interface LayerFacts {
  index: number;
  name: string;
  type: LayerType;
  /** Parameters the layer owns (modelParameters sums these). */
  parameters: number;
  /** Parameters a device running the layer holds: its own plus a tied table's copy. */
  storedParameters: number;
  tp: LayerTpFacts;
  /** Tokens per sample the layer processes (its sequence length). */
  tokensPerSample: number;
  /** Position scheme applied in this layer (embeddings: their own; blocks: their chain's rope/relative). */
  position: PositionEmbedding;
  /** Self-attention masks future tokens (decoder chain blocks). */
  causal: boolean;
  head: HeadFacts | null;
  /** The embedding whose token table this layer starts from and stays equal to (tied); null when untied. */
  tiedTo: number | null;
}

export interface ModelFacts {
  schemaVersion: typeof MODEL_FACTS_VERSION;
  /** Tokens per sample the model reads (tokensPerSample in model-derive.ts): throughput is samples/s x this. */
  tokensPerSample: number;
  parameters: number;
  /** Layers sharing one vocabulary table, its owner first; empty when nothing is tied. */
  tiedLayers: number[];
  layers: LayerFacts[];
}

/** A ModelSpec with its facts, as written for the executor and the profiler. */
export type ModelSpecWithFacts = ModelSpec & { facts: ModelFacts };

function tieOwner(m: ModelSpec): number | null {
  const owner = m.layers.find((l) => l.type === 'embedding' && !l.tiedEmbedding);
  return owner ? owner.index : null;
}

function isTied(l: LayerSpec): boolean {
  return l.tiedEmbedding && (l.type === 'embedding' || l.type === 'head');
}

/** How a pooled head reduces tokens: the class token when the patch embedding adds one (ViT), else the mean (Swin). */
function pooling(m: ModelSpec, l: LayerSpec): HeadFacts['pooling'] {
  if (!isPooledHead(l)) return 'none';
  const patch = m.layers.find((x) => x.type === 'patch-embedding');
  return patch && patch.positionEmbedding === 'learned' ? 'cls' : 'mean';
}

export function layerFacts(m: ModelSpec, l: LayerSpec): LayerFacts {
  const tp = layerTpParameters(l);
  const owner = tieOwner(m);
  return {
    index: l.index,
    name: l.name,
    type: l.type,
    parameters: layerParameters(l),
    storedParameters: layerStoredParameters(l),
    tp: { split: layerTpSplit(l), divisors: tpDivisors(l), splitParameters: tp.split, replicatedParameters: tp.replicated, sequenceParallel: layerSupportsSequenceParallel(l), contextParallel: layerSupportsContextParallel(l) },
    tokensPerSample: l.seqLength,
    position: l.positionEmbedding,
    causal: layerIsCausal(l),
    head: l.type === 'head' ? { pooling: pooling(m, l), outputBias: headOutputBias(l), transform: l.headTransform } : null,
    tiedTo: isTied(l) ? owner : null,
  };
}

export function modelFacts(m: ModelSpec): ModelFacts {
  const owner = tieOwner(m);
  const tied = m.layers.filter(isTied).map((l) => l.index);
  return {
    schemaVersion: MODEL_FACTS_VERSION,
    tokensPerSample: tokensPerSample(m),
    parameters: m.layers.reduce((s, l) => s + layerParameters(l), 0),
    tiedLayers: tied.length > 0 && owner !== null ? [owner, ...tied.filter((u) => u !== owner)] : [],
    layers: m.layers.map((l) => layerFacts(m, l)),
  };
}

/** The model JSON the executor and the profiler read: the spec plus its facts (recomputed, never trusted from input). */
export function withFacts(m: ModelSpec): ModelSpecWithFacts {
  const { facts: _ignored, ...spec } = m as ModelSpecWithFacts;
  return { ...spec, facts: modelFacts(spec) };
}
