// describeModel: the derived numbers of one model in one plain object (for `uniap describe` and its
// --json): parameters, FLOPs per token, model-state memory, layers by type, distinct layer shapes.
import {
  layerParameters,
  layerShapeKey,
  modelFlopsPerSample,
  modelFlopsPerToken,
  modelParameters,
  nonEmbeddingParameters,
  tokensPerSample,
} from './model-derive.ts';
import { modelFingerprint } from './model-presets.ts';
import type { DType, LayerSpec, LayerType, ModelFamily, ModelSpec } from './model-spec.ts';
import { modelStateBytesPerParameter } from './model-state.ts';


export interface LayerShapeSummary {
  shapeKey: string;
  type: LayerType;
  /** Layers with this exact shape. */
  count: number;
  /** Name of the first layer with this shape. */
  firstLayer: string;
  parametersPerLayer: number;
  hiddenSize: number;
  ffnSize: number;
  heads: number;
  kvHeads: number;
  seqLength: number;
}

export interface ModelDescription {
  name: string;
  family: ModelFamily;
  source: string;
  fingerprint: string;
  dtype: DType;
  parameters: number;
  nonEmbeddingParameters: number;
  /** Training FLOPs (forward + backward, no recomputation) per token and per sample. */
  flopsPerToken: number;
  flopsPerSample: number;
  tokensPerSample: number;
  /** Model states unsharded: 18 bytes per parameter for 16-bit AdamW, 16 for fp32 (configs/model-state.ts). */
  modelStateBytes: number;
  modelStateBytesPerParameter: number;
  layers: number;
  layersByType: { type: LayerType; count: number }[];
  distinctShapes: number;
  shapes: LayerShapeSummary[];
  /** Tokens per sample of the first chain (encoder for encoder-decoder models; vision: patch tokens). */
  seqLength: number;
  /** Decoder tokens per sample of an encoder-decoder model; 0 otherwise. */
  decoderSeqLength: number;
}

export function describeModel(m: ModelSpec): ModelDescription {
  const parameters = modelParameters(m);
  const byType = new Map<LayerType, number>();
  const shapes = new Map<string, LayerShapeSummary>();
  for (const l of m.layers) {
    byType.set(l.type, (byType.get(l.type) ?? 0) + 1);
    const key = layerShapeKey(l);
    const s = shapes.get(key);
    if (s) s.count++;
    else shapes.set(key, shapeSummary(l, key));
  }
  const decoderFirst = m.family === 'encoder-decoder' ? m.layers.find((l) => l.chain === 'decoder') : undefined;
  return {
    name: m.name,
    family: m.family,
    source: m.source,
    fingerprint: modelFingerprint(m),
    dtype: m.dtype,
    parameters,
    nonEmbeddingParameters: nonEmbeddingParameters(m),
    flopsPerToken: modelFlopsPerToken(m),
    flopsPerSample: modelFlopsPerSample(m),
    tokensPerSample: tokensPerSample(m),
    modelStateBytes: modelStateBytesPerParameter(m.dtype) * parameters,
    modelStateBytesPerParameter: modelStateBytesPerParameter(m.dtype),
    layers: m.layers.length,
    layersByType: [...byType].map(([type, count]) => ({ type, count })),
    distinctShapes: shapes.size,
    shapes: [...shapes.values()],
    seqLength: m.layers[0]?.seqLength ?? 0,
    decoderSeqLength: decoderFirst?.seqLength ?? 0,
  };
}

function shapeSummary(l: LayerSpec, key: string): LayerShapeSummary {
  return {
    shapeKey: key,
    type: l.type,
    count: 1,
    firstLayer: l.name,
    parametersPerLayer: layerParameters(l),
    hiddenSize: l.hiddenSize,
    ffnSize: l.ffnSize,
    heads: l.heads,
    kvHeads: l.kvHeads,
    seqLength: l.seqLength,
  };
}
