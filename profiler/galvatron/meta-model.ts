// Galvatron's meta_configs (model hyper-parameters in the Hugging Face / original repos' key names)
// -> our ModelConfig, so an import can name the model its measurements describe and the imported
// layer entries carry shapeKeys of that model. Which meta file belongs to a profile dataset: the one
// whose name appears in the dataset's tag (t5-3B), else the one whose hidden size and head count
// match the tag's `hidden{H}_head{A}`.
//
// Architecture conventions per meta format (the same the built-in presets use):
//   llama  (dim, n_heads, n_layers, multiple_of, vocab_size): SwiGLU FFN = multiple_of *
//          ceil((8/3 * dim) / multiple_of) (Meta's llama/model.py), RMSNorm, RoPE, no biases, untied head.
//   gpt    (n_embd, n_head, n_layer, vocab_size, n_positions): GPT-2 style, FFN 4*h, GELU, LayerNorm,
//          learned positions, biases, tied head.
//   t5     (d_model, d_ff, num_heads, d_kv, num_layers, vocab_size): encoder + cross-decoder stacks of
//          num_layers each, RMSNorm, relative positions, no biases, ReLU counted as the 2-matrix 'gelu'
//          shape, shared embedding, tied head.
//   vit    (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, image_size,
//          patch_size, num_channels, num_labels): patch embedding + encoder blocks + classifier.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { BlockConfig, DType, ModelConfig } from '../../configs/model-spec.ts';
import { readJsonFile } from './files.ts';

export interface MetaModel {
  file: string;
  /** File name without .json, e.g. "llama-7b". */
  name: string;
  hiddenSize: number;
  heads: number;
  /** Default sequence length the meta file states (n_positions), if any. */
  positions?: number;
  toConfig(dtype: DType, seqLength: number, decoderSeqLength?: number): ModelConfig;
}

function num(o: Record<string, unknown>, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Interpret one meta_configs file, or undefined when its keys match no known format. */
export function readMeta(file: string): MetaModel | undefined {
  const o = readJsonFile(file) as Record<string, unknown>;
  const name = path.basename(file, '.json');
  const source = `Galvatron meta_configs/${path.basename(file)}`;
  if (num(o, 'dim') && num(o, 'n_heads') && num(o, 'n_layers')) {
    const h = num(o, 'dim')!;
    const a = num(o, 'n_heads')!;
    const L = num(o, 'n_layers')!;
    const mult = num(o, 'multiple_of') ?? 256;
    const ffn = mult * Math.ceil(((8 / 3) * h) / mult);
    const V = num(o, 'vocab_size') ?? 32000;
    return {
      file,
      name,
      hiddenSize: h,
      heads: a,
      toConfig: (dtype, s) => ({
        schemaVersion: 1,
        name,
        family: 'decoder-only',
        description: `${source}: Llama, ${L} layers, hidden ${h}, ${a} heads, SwiGLU ${ffn}, sequence ${s}`,
        dtype,
        hiddenSize: h,
        ffnSize: ffn,
        activation: 'swiglu',
        heads: a,
        seqLength: s,
        vocabSize: V,
        norm: 'rmsnorm',
        bias: false,
        blocks: [{ type: 'embedding', positionEmbedding: 'rope' }, { type: 'decoder', count: L }, { type: 'head' }],
      }),
    };
  }
  if (num(o, 'n_embd') && num(o, 'n_head') && num(o, 'n_layer')) {
    const h = num(o, 'n_embd')!;
    const a = num(o, 'n_head')!;
    const L = num(o, 'n_layer')!;
    const d = num(o, 'head_dim');
    const V = num(o, 'vocab_size') ?? 50257;
    const positions = num(o, 'n_positions');
    const decoder: BlockConfig = { type: 'decoder', count: L };
    if (d && d * a !== h) decoder.headDim = d;
    return {
      file,
      name,
      hiddenSize: h,
      heads: a,
      ...(positions ? { positions } : {}),
      toConfig: (dtype, s) => ({
        schemaVersion: 1,
        name,
        family: 'decoder-only',
        description: `${source}: GPT, ${L} layers, hidden ${h}, ${a} heads, sequence ${s}`,
        dtype,
        hiddenSize: h,
        ffnSize: 4 * h,
        activation: 'gelu',
        heads: a,
        seqLength: s,
        vocabSize: V,
        norm: 'layernorm',
        bias: true,
        blocks: [{ type: 'embedding', positionEmbedding: 'learned' }, decoder, { type: 'head', tiedEmbedding: true, bias: false }],
      }),
    };
  }
  if (num(o, 'd_model') && num(o, 'num_heads') && num(o, 'num_layers')) {
    const h = num(o, 'd_model')!;
    const a = num(o, 'num_heads')!;
    const L = num(o, 'num_layers')!;
    const d = num(o, 'd_kv');
    const f = num(o, 'd_ff') ?? 4 * h;
    const V = num(o, 'vocab_size') ?? 32128;
    const positions = num(o, 'n_positions');
    const withHeadDim = (b: BlockConfig): BlockConfig => (d && d * a !== h ? { ...b, headDim: d } : b);
    return {
      file,
      name,
      hiddenSize: h,
      heads: a,
      ...(positions ? { positions } : {}),
      toConfig: (dtype, s, sd) => ({
        schemaVersion: 1,
        name,
        family: 'encoder-decoder',
        description: `${source}: T5, ${L} + ${L} layers, d_model ${h}, d_ff ${f}, ${a} heads, sequence ${s}/${sd ?? s}`,
        dtype,
        hiddenSize: h,
        ffnSize: f,
        activation: 'gelu',
        heads: a,
        seqLength: s,
        decoderSeqLength: sd ?? s,
        vocabSize: V,
        norm: 'rmsnorm',
        bias: false,
        blocks: [
          { type: 'embedding', positionEmbedding: 'relative' },
          withHeadDim({ type: 'encoder', count: L }),
          { type: 'embedding', positionEmbedding: 'relative', tiedEmbedding: true },
          withHeadDim({ type: 'cross-decoder', count: L }),
          { type: 'head', tiedEmbedding: true },
        ],
      }),
    };
  }
  if (num(o, 'hidden_size') && num(o, 'num_attention_heads') && num(o, 'num_hidden_layers') && num(o, 'patch_size')) {
    const h = num(o, 'hidden_size')!;
    const a = num(o, 'num_attention_heads')!;
    const L = num(o, 'num_hidden_layers')!;
    const f = num(o, 'intermediate_size') ?? 4 * h;
    const img = num(o, 'image_size') ?? 224;
    const p = num(o, 'patch_size')!;
    const c = num(o, 'num_channels') ?? 3;
    const classes = num(o, 'num_labels') ?? 1000;
    return {
      file,
      name,
      hiddenSize: h,
      heads: a,
      positions: (img / p) ** 2 + 1,
      toConfig: (dtype) => ({
        schemaVersion: 1,
        name,
        family: 'vision',
        description: `${source}: ViT, ${L} layers, hidden ${h}, ${a} heads, ${img}px / ${p}`,
        dtype,
        hiddenSize: h,
        ffnSize: f,
        activation: 'gelu',
        heads: a,
        vocabSize: classes,
        norm: 'layernorm',
        bias: true,
        blocks: [
          { type: 'patch-embedding', patchSize: p, imageSize: img, channels: c, positionEmbedding: 'learned' },
          { type: 'encoder', count: L },
          { type: 'head' },
        ],
      }),
    };
  }
  return undefined;
}

export function readMetaDir(dir: string): MetaModel[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readMeta(path.join(dir, f)))
    .filter((m): m is MetaModel => m !== undefined);
}

/** Meta models a dataset tag can describe: named in the tag, else matching hidden{H}_head{A}. */
export function metaCandidates(metas: MetaModel[], tag: string): MetaModel[] {
  const named = metas.filter((m) => tag.toLowerCase().includes(m.name.toLowerCase()));
  if (named.length > 0) return named;
  const hm = /hidden(\d+)_head(\d+)/.exec(tag);
  if (!hm) return [];
  return metas.filter((m) => m.hiddenSize === Number(hm[1]) && m.heads === Number(hm[2]));
}
