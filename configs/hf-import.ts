// Import of a Hugging Face transformers config.json into a ModelConfig (configs/model-spec.ts), for
// the llama, mistral, qwen2, gpt2, bert, t5 and vit model types. Field names and defaults follow the
// transformers configuration classes (LlamaConfig, MistralConfig, Qwen2Config, GPT2Config,
// BertConfig, T5Config, ViTConfig). Values are validated here against the file's own keys, so an
// error names e.g. `$.num_attention_heads`; the result then goes through resolveModel.
//
// Choices (documented, not silent):
//   - dtype: bf16 (mixed-precision training). `torch_dtype` is the checkpoint's storage format.
//   - llama/mistral/qwen2: the MLP is gated (gate, up, down) whatever hidden_act says -> 'swiglu';
//     RMSNorm; RoPE; bias = attention_bias (Qwen2's QKV-only biases are not modelled: bias false).
//     Mistral's sliding window is not modelled (attention spans the whole sequence).
//   - gpt2: n_inner null -> 4 * n_embd; learned positions; LM head tied unless tie_word_embeddings false.
//   - bert: a pre-training MLM head (dense + GELU + LayerNorm, tied projection, output bias);
//     token-type embeddings and the pooler are not modelled.
//   - t5: feed_forward_proj "gated-*" (T5 v1.1) -> 'swiglu', else the 2-matrix shape ('gelu');
//     d_kv -> headDim; the decoder embedding shares the encoder's table; n_positions absent (v1.1
//     files) -> 512, T5's pre-training input length (Raffel et al. 2020, sec. 3.1.2).
//   - vit: classes = num_labels, else the size of id2label, else 1000 (ImageNet-1k, the fine-tuning
//     head of Dosovitskiy et al. 2021; backbone-only files name no labels).
//   - Sequence length (a training length, not the longest context the weights support): RoPE models
//     (llama, mistral, qwen2) take rope_scaling.original_max_position_embeddings when the file has
//     it (the pre-training context before long-context extension: 8192 for Llama 3.1), else
//     max_position_embeddings capped at HF_DEFAULT_SEQ_LENGTH (Llama-3.1-8B says 131072, Mistral-Nemo
//     1,024,000: context limits, not what pre-training runs use). Learned-position models (gpt2,
//     bert) train at their table size. The rule that chose it is in the config's description;
//     overriding it is the caller's business (set `seqLength` on the returned config).
import { basename, dirname, resolve } from 'node:path';
import { UniapError } from '../common/errors.ts';
import type { BlockConfig, ModelConfig } from './model-spec.ts';
import { JsonReader } from './validate.ts';

export const SUPPORTED_HF_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt2', 'bert', 't5', 'vit'] as const;
type HfModelType = (typeof SUPPORTED_HF_MODEL_TYPES)[number];

/** transformers class names -> model_type, for files that carry `architectures` but no `model_type`. */
const ARCHITECTURES: Record<string, HfModelType> = {
  LlamaForCausalLM: 'llama',
  LlamaModel: 'llama',
  MistralForCausalLM: 'mistral',
  MistralModel: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen2Model: 'qwen2',
  GPT2LMHeadModel: 'gpt2',
  GPT2Model: 'gpt2',
  BertForMaskedLM: 'bert',
  BertForPreTraining: 'bert',
  BertModel: 'bert',
  T5ForConditionalGeneration: 't5',
  T5Model: 't5',
  ViTForImageClassification: 'vit',
  ViTModel: 'vit',
};

const INT = { integer: true, positive: true } as const;

/** A Hugging Face config.json names its `model_type` or `architectures`; a uniap ModelConfig never does. */
export function isHuggingFaceConfig(json: unknown): boolean {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && ('model_type' in json || 'architectures' in json);
}

/** The model name a file suggests: its directory for a `config.json` (HF layout), else its base name. */
export function nameFromPath(file: string): string {
  const base = basename(file);
  if (base === 'config.json') {
    const dir = basename(dirname(resolve(file)));
    if (dir) return dir;
  }
  return base.replace(/\.json$/, '');
}

/**
 * Longest default training length of a RoPE model whose config states none: 8192 tokens, the main
 * pre-training context of Llama 3 (Llama Team 2024, arXiv 2407.21783, sec. 3.4: long-context
 * extension comes after) and the seq_len of torchtitan's Llama 3 8B/70B configurations.
 */
export const HF_DEFAULT_SEQ_LENGTH = 8192;

/** The training length of a RoPE model and the rule that chose it. */
function ropeTrainingLength(r: JsonReader): { seqLength: number; rule: string } {
  const scaling = r.optChild('rope_scaling');
  const original = scaling && scaling.value !== null && typeof scaling.value === 'object' ? optInt(scaling, 'original_max_position_embeddings') : undefined;
  const max = sequence(r, ['max_position_embeddings']);
  if (original !== undefined) return { seqLength: original, rule: `rope_scaling.original_max_position_embeddings ${original} (max_position_embeddings ${max} is the extended context)` };
  if (max > HF_DEFAULT_SEQ_LENGTH) return { seqLength: HF_DEFAULT_SEQ_LENGTH, rule: `max_position_embeddings ${max} capped at the ${HF_DEFAULT_SEQ_LENGTH}-token default training length` };
  return { seqLength: max, rule: `max_position_embeddings ${max}` };
}

export function importHuggingFaceConfig(json: unknown, file: string): ModelConfig {
  const r = JsonReader.root(file, json);
  const type = modelType(r, file);
  const name = nameFromPath(file);
  const description = `imported from the Hugging Face ${type} config ${file}`;
  switch (type) {
    case 'llama':
    case 'mistral':
    case 'qwen2':
      return llamaLike(r, type, name, description);
    case 'gpt2':
      return gpt2(r, name, description);
    case 'bert':
      return bert(r, name, description);
    case 't5':
      return t5(r, name, description);
    case 'vit':
      return vit(r, name, description);
  }
}

function modelType(r: JsonReader, file: string): HfModelType {
  const supported = SUPPORTED_HF_MODEL_TYPES.join(', ');
  const unsupported = (what: string): never => {
    throw new UniapError(
      'UNSUPPORTED',
      `${file}: Hugging Face ${what} is not supported; supported model types: ${supported} (or write a uniap model JSON like configs/models/llama-2-7b.json)`,
      { file, supported: [...SUPPORTED_HF_MODEL_TYPES] },
    );
  };
  const mt = r.optString('model_type');
  if (mt !== undefined) {
    return (SUPPORTED_HF_MODEL_TYPES as readonly string[]).includes(mt) ? (mt as HfModelType) : unsupported(`model_type "${mt}"`);
  }
  const archs = (r.optArray('architectures') ?? []).map((a) => a.asString());
  for (const a of archs) {
    const t = ARCHITECTURES[a];
    if (t) return t;
  }
  return unsupported(`architecture "${archs.join(', ') || '(none)'}"`);
}

/** An optional field that transformers also allows to be null (e.g. n_inner, head_dim). */
function optInt(r: JsonReader, key: string): number | undefined {
  const c = r.optChild(key);
  return c === undefined || c.value === null ? undefined : c.asNumber(INT);
}

/** Heads divide the hidden size (unless a head dim is given) and KV heads divide heads. */
function checkHeads(r: JsonReader, hidden: number, heads: number, headsKey: string, kvHeads?: number, kvKey?: string, headDim?: number): void {
  if (headDim === undefined && hidden % heads !== 0) {
    r.fail(`${headsKey} ${heads} does not divide the hidden size ${hidden}`, 'fix the head count, or give head_dim', `${r.path}.${headsKey}`);
  }
  if (kvHeads !== undefined && kvKey !== undefined && heads % kvHeads !== 0) {
    r.fail(`${kvKey} ${kvHeads} does not divide ${headsKey} ${heads}`, 'use a KV head count that divides the head count', `${r.path}.${kvKey}`);
  }
}

function sequence(r: JsonReader, keys: string[]): number {
  for (const k of keys) {
    const v = optInt(r, k);
    if (v !== undefined) return v;
  }
  return r.fail(`missing "${keys[0]}"`, `add "${keys[0]}" (the training sequence length)`, `${r.path}.${keys[0]}`);
}

function llamaLike(r: JsonReader, type: HfModelType, name: string, description: string): ModelConfig {
  // eslint-disable-next-line no-param-reassign -- the description gains the sequence-length rule
  const hidden = r.number('hidden_size', INT);
  const heads = r.number('num_attention_heads', INT);
  const kvHeads = optInt(r, 'num_key_value_heads') ?? heads;
  const headDim = optInt(r, 'head_dim');
  checkHeads(r, hidden, heads, 'num_attention_heads', kvHeads, 'num_key_value_heads', headDim);
  const decoder: BlockConfig = { type: 'decoder', count: r.number('num_hidden_layers', INT) };
  if (headDim !== undefined) decoder.headDim = headDim;
  const seq = ropeTrainingLength(r);
  description = `${description}; sequence length ${seq.seqLength} from ${seq.rule}`;
  const cfg: ModelConfig = {
    schemaVersion: 1,
    name,
    family: 'decoder-only',
    description,
    dtype: 'bf16',
    hiddenSize: hidden,
    ffnSize: r.number('intermediate_size', INT),
    activation: 'swiglu',
    heads,
    seqLength: seq.seqLength,
    vocabSize: r.number('vocab_size', INT),
    norm: 'rmsnorm',
    bias: type === 'llama' ? (r.optBool('attention_bias') ?? false) : false,
    blocks: [{ type: 'embedding', positionEmbedding: 'rope' }, decoder, { type: 'head', tiedEmbedding: r.optBool('tie_word_embeddings') ?? false }],
  };
  if (kvHeads !== heads) cfg.kvHeads = kvHeads;
  return cfg;
}

function gpt2(r: JsonReader, name: string, description: string): ModelConfig {
  const hidden = r.number('n_embd', INT);
  const heads = r.number('n_head', INT);
  checkHeads(r, hidden, heads, 'n_head');
  return {
    schemaVersion: 1,
    name,
    family: 'decoder-only',
    description,
    dtype: 'bf16',
    hiddenSize: hidden,
    ffnSize: optInt(r, 'n_inner') ?? 4 * hidden,
    activation: 'gelu',
    heads,
    seqLength: sequence(r, ['n_positions', 'n_ctx']),
    vocabSize: r.number('vocab_size', INT),
    norm: 'layernorm',
    bias: true,
    blocks: [
      { type: 'embedding', positionEmbedding: 'learned' },
      { type: 'decoder', count: r.number('n_layer', INT) },
      { type: 'head', tiedEmbedding: r.optBool('tie_word_embeddings') ?? true, bias: false },
    ],
  };
}

function bert(r: JsonReader, name: string, description: string): ModelConfig {
  const hidden = r.number('hidden_size', INT);
  const heads = r.number('num_attention_heads', INT);
  checkHeads(r, hidden, heads, 'num_attention_heads');
  const positions = r.optString('position_embedding_type') ?? 'absolute';
  return {
    schemaVersion: 1,
    name,
    family: 'encoder-only',
    description,
    dtype: 'bf16',
    hiddenSize: hidden,
    ffnSize: r.number('intermediate_size', INT),
    activation: 'gelu',
    heads,
    seqLength: sequence(r, ['max_position_embeddings']),
    vocabSize: r.number('vocab_size', INT),
    norm: 'layernorm',
    bias: true,
    blocks: [
      { type: 'embedding', positionEmbedding: positions === 'absolute' ? 'learned' : 'relative' },
      { type: 'encoder', count: r.number('num_hidden_layers', INT) },
      { type: 'head', tiedEmbedding: r.optBool('tie_word_embeddings') ?? true, headTransform: true },
    ],
  };
}

function t5(r: JsonReader, name: string, description: string): ModelConfig {
  const hidden = r.number('d_model', INT);
  const heads = r.number('num_heads', INT);
  const headDim = optInt(r, 'd_kv') ?? hidden / heads;
  checkHeads(r, hidden, heads, 'num_heads', undefined, undefined, optInt(r, 'd_kv'));
  const layers = r.number('num_layers', INT);
  const decoderLayers = optInt(r, 'num_decoder_layers') ?? layers;
  const proj = r.optString('feed_forward_proj') ?? 'relu';
  const seq = optInt(r, 'n_positions') ?? 512;
  return {
    schemaVersion: 1,
    name,
    family: 'encoder-decoder',
    description,
    dtype: 'bf16',
    hiddenSize: hidden,
    ffnSize: r.number('d_ff', INT),
    activation: proj.startsWith('gated-') ? 'swiglu' : 'gelu',
    heads,
    seqLength: seq,
    decoderSeqLength: seq,
    vocabSize: r.number('vocab_size', INT),
    norm: 'rmsnorm',
    bias: false,
    blocks: [
      { type: 'embedding', positionEmbedding: 'relative' },
      { type: 'encoder', count: layers, headDim },
      { type: 'embedding', positionEmbedding: 'relative', tiedEmbedding: true },
      { type: 'cross-decoder', count: decoderLayers, headDim },
      { type: 'head', tiedEmbedding: r.optBool('tie_word_embeddings') ?? true },
    ],
  };
}

function vit(r: JsonReader, name: string, description: string): ModelConfig {
  const hidden = r.number('hidden_size', INT);
  const heads = r.number('num_attention_heads', INT);
  checkHeads(r, hidden, heads, 'num_attention_heads');
  const image = r.number('image_size', INT);
  const patch = r.number('patch_size', INT);
  if (image % patch !== 0) r.fail(`patch_size ${patch} does not divide image_size ${image}`, 'use a patch size that divides the image side', `${r.path}.patch_size`);
  const labels = r.optChild('id2label');
  const classes = optInt(r, 'num_labels') ?? (labels ? labels.asEntries().length : 1000);
  return {
    schemaVersion: 1,
    name,
    family: 'vision',
    description,
    dtype: 'bf16',
    hiddenSize: hidden,
    ffnSize: r.number('intermediate_size', INT),
    activation: 'gelu',
    heads,
    vocabSize: classes,
    norm: 'layernorm',
    bias: r.optBool('qkv_bias') ?? true,
    blocks: [
      { type: 'patch-embedding', patchSize: patch, imageSize: image, channels: optInt(r, 'num_channels') ?? 3, positionEmbedding: 'learned' },
      { type: 'encoder', count: r.number('num_hidden_layers', INT) },
      { type: 'head' },
    ],
  };
}
