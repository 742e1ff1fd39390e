// resolveModel: validate a ModelConfig (configs/model-spec.ts) once and expand it into a ModelSpec:
// one LayerSpec per layer with every field filled, and the graph edges. Every user mistake becomes a
// one-line ConfigError "file: at $.json.path: problem; fix".
//
// Documented defaults (a block field left out inherits the top-level field, then this default):
//   dtype bf16; activation gelu; norm layernorm; bias true; kvHeads = heads; headDim = hidden / heads
//   (heads must divide hidden unless headDim is given); count 1; positionEmbedding 'learned' on
//   embedding / patch-embedding layers; channels 3; patchMerging, tiedEmbedding, headTransform false.
//   hiddenSize falls back to the previous layer's (a head always takes its input's hidden size
//   unless it names one). The head's vocabSize is the classifier's class count in vision models.
// Sequence lengths: text models take `seqLength` (the decoder chain of an encoder-decoder model
// `decoderSeqLength`, else `seqLength`); vision models derive it: ViT (patch-embedding with learned
// positions) (image/patch)^2 + 1 class token, Swin (positionEmbedding 'none') (image/patch)^2, then
// resolution^2 per Swin block, where patch merging halves the resolution (Liu et al. 2021, sec. 3.1).
// Graph: layer order is encoder chain then decoder chain; edges are (u, u+1) for every consecutive
// pair, plus one edge from the last encoder layer to every cross-decoder (its encoder output). The
// edge into T5's decoder embedding stands for the encoder output the decoder stages still need; the
// embedding itself reads decoder token ids.
import { ConfigError } from '../common/errors.ts';
import { JsonReader } from './validate.ts';
import {
  MODEL_SCHEMA_VERSION,
  type Activation,
  type DType,
  type Edge,
  type LayerSpec,
  type LayerType,
  type ModelFamily,
  type ModelSpec,
  type Norm,
  type PositionEmbedding,
} from './model-spec.ts';

export const LAYER_TYPES: readonly LayerType[] = ['embedding', 'patch-embedding', 'encoder', 'decoder', 'cross-decoder', 'swin', 'head'];
export const MODEL_FAMILIES: readonly ModelFamily[] = ['decoder-only', 'encoder-only', 'encoder-decoder', 'vision'];
const DTYPES: readonly DType[] = ['fp32', 'fp16', 'bf16'];
const ACTIVATIONS: readonly Activation[] = ['gelu', 'swiglu'];
const NORMS: readonly Norm[] = ['layernorm', 'rmsnorm'];
const POSITIONS: readonly PositionEmbedding[] = ['learned', 'rope', 'relative', 'none'];

/** Layer types each family may contain. */
const FAMILY_TYPES: Record<ModelFamily, readonly LayerType[]> = {
  'decoder-only': ['embedding', 'decoder', 'head'],
  'encoder-only': ['embedding', 'encoder', 'head'],
  'encoder-decoder': ['embedding', 'encoder', 'cross-decoder', 'head'],
  vision: ['patch-embedding', 'encoder', 'swin', 'head'],
};

type NumKey = 'hiddenSize' | 'ffnSize' | 'heads' | 'kvHeads' | 'headDim' | 'seqLength' | 'vocabSize' | 'resolution' | 'windowSize' | 'patchSize' | 'imageSize' | 'channels';
type BoolKey = 'bias' | 'patchMerging' | 'tiedEmbedding' | 'headTransform';
type BlockKey = NumKey | BoolKey | 'activation' | 'norm' | 'positionEmbedding';
const NUM_KEYS: readonly NumKey[] = ['hiddenSize', 'ffnSize', 'heads', 'kvHeads', 'headDim', 'seqLength', 'vocabSize', 'resolution', 'windowSize', 'patchSize', 'imageSize', 'channels'];
const BOOL_KEYS: readonly BoolKey[] = ['bias', 'patchMerging', 'tiedEmbedding', 'headTransform'];

const BLOCK_FIELDS = ['hiddenSize', 'ffnSize', 'activation', 'heads', 'kvHeads', 'headDim', 'norm', 'bias'] as const;
/** Which BlockConfig fields apply to which layer type (others are rejected with a specific message). */
const APPLIES: Record<LayerType, readonly BlockKey[]> = {
  embedding: ['hiddenSize', 'vocabSize', 'seqLength', 'positionEmbedding', 'tiedEmbedding'],
  'patch-embedding': ['hiddenSize', 'patchSize', 'imageSize', 'channels', 'positionEmbedding', 'bias'],
  encoder: [...BLOCK_FIELDS, 'seqLength'],
  decoder: [...BLOCK_FIELDS, 'seqLength'],
  'cross-decoder': [...BLOCK_FIELDS, 'seqLength'],
  swin: [...BLOCK_FIELDS, 'resolution', 'windowSize', 'patchMerging'],
  head: ['hiddenSize', 'vocabSize', 'norm', 'bias', 'tiedEmbedding', 'headTransform'],
};

/** A value with the JSON path it came from, so a cross-field error points at the right place. */
interface Field<T> {
  value: T;
  path: string;
}

interface Defaults {
  dtype: DType;
  hiddenSize?: Field<number>;
  ffnSize?: Field<number>;
  activation?: Field<Activation>;
  heads?: Field<number>;
  kvHeads?: Field<number>;
  seqLength?: Field<number>;
  decoderSeqLength?: Field<number>;
  vocabSize?: Field<number>;
  norm?: Field<Norm>;
  bias?: Field<boolean>;
}

interface BlockInput {
  path: string;
  type: LayerType;
  count: number;
  num: Partial<Record<NumKey, Field<number>>>;
  bool: Partial<Record<BoolKey, Field<boolean>>>;
  activation?: Field<Activation>;
  norm?: Field<Norm>;
  positionEmbedding?: Field<PositionEmbedding>;
}

const INT = { integer: true, positive: true } as const;

function optInt(r: JsonReader, key: string): Field<number> | undefined {
  const c = r.optChild(key);
  return c ? { value: c.asNumber(INT), path: c.path } : undefined;
}
function optEnum<T extends string>(r: JsonReader, key: string, oneOf: readonly T[]): Field<T> | undefined {
  const c = r.optChild(key);
  return c ? { value: c.asString({ oneOf }) as T, path: c.path } : undefined;
}
function optBoolField(r: JsonReader, key: string): Field<boolean> | undefined {
  const c = r.optChild(key);
  return c ? { value: c.asBool(), path: c.path } : undefined;
}

export function resolveModel(config: unknown, source: string): ModelSpec {
  const r = JsonReader.root(source, config);
  const fail = (path: string, problem: string, fix: string): never => {
    throw new ConfigError(source, path, problem, fix);
  };

  // ---- 1. Top level ----
  const version = r.optChild('schemaVersion');
  if (version && version.asNumber({ integer: true }) !== MODEL_SCHEMA_VERSION) {
    fail(version.path, `schemaVersion ${String(version.value)} is not supported`, `use ${MODEL_SCHEMA_VERSION} or leave it out`);
  }
  const nameReader = r.child('name');
  const name = nameReader.asString().trim();
  if (name === '') fail(nameReader.path, 'the name is empty', 'give the model a name, e.g. "my-gpt"');
  const family = r.string('family', { oneOf: MODEL_FAMILIES }) as ModelFamily;
  r.optString('description');
  const d: Defaults = {
    dtype: (r.optString('dtype', { oneOf: DTYPES }) ?? 'bf16') as DType,
    hiddenSize: optInt(r, 'hiddenSize'),
    ffnSize: optInt(r, 'ffnSize'),
    activation: optEnum(r, 'activation', ACTIVATIONS),
    heads: optInt(r, 'heads'),
    kvHeads: optInt(r, 'kvHeads'),
    seqLength: optInt(r, 'seqLength'),
    decoderSeqLength: optInt(r, 'decoderSeqLength'),
    vocabSize: optInt(r, 'vocabSize'),
    norm: optEnum(r, 'norm', NORMS),
    bias: optBoolField(r, 'bias'),
  };
  r.optNumber('publishedParameters', { positive: true });
  const blockReaders = r.array('blocks', { minLength: 1 });
  r.done();

  if (family === 'vision' && d.seqLength) {
    fail(d.seqLength.path, 'vision models derive the sequence length from imageSize / patchSize', 'remove "seqLength"');
  }
  if (family !== 'encoder-decoder' && d.decoderSeqLength) {
    fail(d.decoderSeqLength.path, 'decoderSeqLength applies only to encoder-decoder models', 'remove it or set "family": "encoder-decoder"');
  }

  // ---- 2. Blocks: types, counts, applicable fields ----
  const blocks = blockReaders.map((b) => readBlock(b, family));

  // ---- 3. Structure: which chain each block is in, where embeddings and the head may stand ----
  const chains = assignChains(blocks, family, fail);

  // ---- 4. Expand into layers ----
  const layers: LayerSpec[] = [];
  const typeCounters = new Map<string, number>();
  let resolution = 0; // Swin grid side of the previous layer
  let encoderSeqLength = 0;
  for (const [bi, blk] of blocks.entries()) {
    const chain = chains[bi]!;
    const prev = layers[layers.length - 1];
    const chainStart = bi === 0 || chains[bi - 1] !== chain;
    const prevInChain = chainStart ? undefined : prev;
    const at = (key: BlockKey): string => blk.num[key as NumKey]?.path ?? blk.bool[key as BoolKey]?.path ?? `${blk.path}.${key}`;
    const missing = (key: string, where = 'on this block or at the top level'): never =>
      fail(blk.path, `missing "${key}" for a ${blk.type} block`, `set "${key}" ${where}`);

    // Hidden size: the block's, else the top level's, else the previous layer's (heads: their input's).
    const hidden: Field<number> | undefined =
      blk.num.hiddenSize ??
      (blk.type === 'head' && prev ? { value: prev.hiddenSize, path: `${blk.path}.hiddenSize` } : undefined) ??
      d.hiddenSize ??
      (prev ? { value: prev.hiddenSize, path: `${blk.path}.hiddenSize` } : undefined);
    if (!hidden) return missing('hiddenSize');
    const h = hidden.value;
    const merging = blk.bool.patchMerging?.value ?? false;
    let inputHidden = h;
    if (prevInChain && blk.type !== 'embedding') {
      if (merging) inputHidden = prevInChain.hiddenSize;
      else if (prevInChain.hiddenSize !== h) {
        fail(hidden.path, `hiddenSize ${h} differs from the previous layer's ${prevInChain.hiddenSize}`, `use ${prevInChain.hiddenSize} (only a Swin block with patchMerging changes the width)`);
      }
    }

    // Sequence length of this chain.
    let seq = 0;
    if (family !== 'vision') {
      const chainDefault = chain === 'decoder' && family === 'encoder-decoder' ? (d.decoderSeqLength ?? d.seqLength) : d.seqLength;
      const own = blk.num.seqLength;
      const chainSeq = chainStart ? (own ?? chainDefault) : { value: prev!.seqLength, path: '' };
      if (!chainSeq) {
        return fail('$.seqLength', `missing "seqLength" (tokens per sample) for the ${chain} chain`, 'add "seqLength" at the top level');
      }
      if (own && own.value !== chainSeq.value) {
        fail(own.path, `seqLength ${own.value} differs from its chain's ${chainSeq.value}`, `remove it or use ${chainSeq.value}`);
      }
      seq = chainSeq.value;
    }

    const base = {
      chain,
      hiddenSize: h,
      inputHiddenSize: inputHidden,
      ffnSize: 0,
      activation: (blk.activation ?? d.activation)?.value ?? 'gelu',
      heads: 0,
      kvHeads: 0,
      headDim: 0,
      seqLength: seq,
      attentionSpan: 0,
      encoderSeqLength: 0,
      vocabSize: 0,
      norm: (blk.norm ?? d.norm)?.value ?? 'layernorm',
      bias: (blk.bool.bias ?? d.bias)?.value ?? true,
      positionEmbedding: 'none' as PositionEmbedding,
      resolution: 0,
      windowSize: 0,
      patchMerging: false,
      patchSize: 0,
      imageSize: 0,
      channels: 0,
      tiedEmbedding: false,
      headTransform: false,
      dtype: d.dtype,
    };

    let layer: Omit<LayerSpec, 'index' | 'name'>;
    switch (blk.type) {
      case 'embedding': {
        const vocab = blk.num.vocabSize ?? d.vocabSize ?? missing('vocabSize');
        const tied = blk.bool.tiedEmbedding?.value ?? false;
        if (tied) checkTiedTarget(layers, h, vocab.value, at('tiedEmbedding'), fail);
        layer = { ...base, type: 'embedding', vocabSize: vocab.value, positionEmbedding: blk.positionEmbedding?.value ?? 'learned', tiedEmbedding: tied };
        break;
      }
      case 'patch-embedding': {
        const patch = blk.num.patchSize ?? missing('patchSize', 'on this block');
        const image = blk.num.imageSize ?? missing('imageSize', 'on this block');
        if (image.value % patch.value !== 0) {
          fail(patch.path, `patchSize ${patch.value} does not divide imageSize ${image.value}`, 'use a patch size that divides the image side');
        }
        const pos = blk.positionEmbedding?.value ?? 'learned';
        if (pos !== 'learned' && pos !== 'none') {
          fail(blk.positionEmbedding!.path, `"${pos}" positions are not modelled for patch embeddings`, 'use "learned" (ViT: class token + position table) or "none" (Swin)');
        }
        resolution = image.value / patch.value;
        // ViT (Dosovitskiy et al. 2021, eq. 1): N = (image/patch)^2 patches plus one class token.
        const tokens = resolution * resolution + (pos === 'learned' ? 1 : 0);
        layer = { ...base, type: 'patch-embedding', seqLength: tokens, positionEmbedding: pos, patchSize: patch.value, imageSize: image.value, channels: blk.num.channels?.value ?? 3 };
        break;
      }
      case 'encoder':
      case 'decoder':
      case 'cross-decoder':
      case 'swin': {
        const ffn = blk.num.ffnSize ?? d.ffnSize ?? missing('ffnSize');
        const heads = blk.num.heads ?? d.heads ?? missing('heads');
        const kv = blk.num.kvHeads ?? d.kvHeads ?? heads;
        if (kv.value > heads.value || heads.value % kv.value !== 0) {
          fail(kv.path, `kvHeads ${kv.value} does not divide heads ${heads.value}`, 'use a kvHeads that divides heads (grouped-query attention)');
        }
        let headDim = blk.num.headDim?.value;
        if (headDim === undefined) {
          if (h % heads.value !== 0) {
            fail(heads.path, `heads ${heads.value} does not divide hiddenSize ${h}`, 'use heads that divide hiddenSize, or give "headDim"');
          }
          headDim = h / heads.value;
        }
        layer = { ...base, type: blk.type, ffnSize: ffn.value, heads: heads.value, kvHeads: kv.value, headDim, attentionSpan: seq };
        if (blk.type === 'cross-decoder') {
          const enc = lastOfChain(layers, 'encoder');
          if (enc.hiddenSize !== h) {
            fail(hidden.path, `hiddenSize ${h} differs from the encoder output's ${enc.hiddenSize}`, `use ${enc.hiddenSize} (cross-attention across widths is not modelled)`);
          }
          encoderSeqLength = enc.seqLength;
          layer.encoderSeqLength = encoderSeqLength;
        }
        if (family === 'vision' && blk.type === 'encoder') {
          if (!prev) return fail(blk.path, 'a vision encoder needs a patch-embedding before it', 'add a patch-embedding block first');
          layer.seqLength = prev.seqLength;
          layer.attentionSpan = prev.seqLength;
        }
        // Rotary and relative positions act inside every attention of the chain, so each block
        // carries its chain's scheme (learned positions are added once, by the embedding).
        const chainEmbedding = layers.find((l) => l.chain === chain && l.type === 'embedding');
        if (chainEmbedding && (chainEmbedding.positionEmbedding === 'rope' || chainEmbedding.positionEmbedding === 'relative')) {
          layer.positionEmbedding = chainEmbedding.positionEmbedding;
        }
        if (blk.type === 'swin') layer = swinLayer(layer, blk, prev, resolution, merging, fail);
        if (blk.type === 'swin') resolution = layer.resolution;
        break;
      }
      case 'head': {
        if (!prev) return fail(blk.path, 'a head needs a layer before it', 'put blocks before the head');
        const vocab = blk.num.vocabSize ?? d.vocabSize ?? missing('vocabSize', family === 'vision' ? '(the number of classes) on this block or at the top level' : 'on this block or at the top level');
        const tied = blk.bool.tiedEmbedding?.value ?? false;
        if (tied) checkTiedTarget(layers, h, vocab.value, at('tiedEmbedding'), fail);
        layer = {
          ...base,
          type: 'head',
          seqLength: prev.seqLength,
          vocabSize: vocab.value,
          resolution: prev.resolution,
          tiedEmbedding: tied,
          headTransform: blk.bool.headTransform?.value ?? false,
        };
        break;
      }
    }
    for (let k = 0; k < blk.count; k++) {
      const index = layers.length;
      const layerName = nameFor(blk.type, chain, family, typeCounters);
      layers.push({ index, name: layerName, ...layer });
    }
  }

  return { schemaVersion: MODEL_SCHEMA_VERSION, name, family, dtype: d.dtype, layers, edges: buildEdges(layers, family), source };
}

function readBlock(b: JsonReader, family: ModelFamily): BlockInput {
  const type = b.string('type', { oneOf: LAYER_TYPES }) as LayerType;
  if (!FAMILY_TYPES[family].includes(type)) {
    b.fail(`a "${type}" block does not belong in a ${family} model`, `use ${FAMILY_TYPES[family].join(', ')} blocks, or change "family"`, `${b.path}.type`);
  }
  const count = b.optNumber('count', INT) ?? 1;
  const applies = APPLIES[type];
  const obj = b.value as Record<string, unknown>;
  for (const key of [...NUM_KEYS, ...BOOL_KEYS, 'activation', 'norm', 'positionEmbedding'] as BlockKey[]) {
    if (obj[key] !== undefined && !applies.includes(key)) {
      b.fail(`"${key}" does not apply to a ${type} block`, `remove it (a ${type} block takes: type, count, ${applies.join(', ')})`, `${b.path}.${key}`);
    }
  }
  const out: BlockInput = { path: b.path, type, count, num: {}, bool: {} };
  for (const key of NUM_KEYS) if (applies.includes(key)) {
    const f = optInt(b, key);
    if (f) out.num[key] = f;
  }
  for (const key of BOOL_KEYS) if (applies.includes(key)) {
    const f = optBoolField(b, key);
    if (f) out.bool[key] = f;
  }
  if (applies.includes('activation')) out.activation = optEnum(b, 'activation', ACTIVATIONS);
  if (applies.includes('norm')) out.norm = optEnum(b, 'norm', NORMS);
  if (applies.includes('positionEmbedding')) out.positionEmbedding = optEnum(b, 'positionEmbedding', POSITIONS);
  b.done();
  if (family === 'vision' && out.num.seqLength) {
    b.fail('vision models derive the sequence length from imageSize / patchSize', 'remove "seqLength"', out.num.seqLength.path);
  }
  const single = type === 'embedding' || type === 'patch-embedding' || type === 'head' || out.bool.patchMerging?.value === true;
  if (single && count !== 1) {
    const what = type === 'swin' ? 'a Swin block with patchMerging' : `a ${type} block`;
    b.fail(`count ${count} on ${what}`, type === 'swin' ? 'split the stage: one block with patchMerging and count 1, then the rest' : 'use count 1', `${b.path}.count`);
  }
  return out;
}

type Fail = (path: string, problem: string, fix: string) => never;

/** Chain of each block, with the ordering rules of each family. */
function assignChains(blocks: BlockInput[], family: ModelFamily, fail: Fail): ('encoder' | 'decoder')[] {
  const last = blocks.length - 1;
  blocks.forEach((b, i) => {
    if (b.type === 'head' && i !== last) fail(`${b.path}.type`, 'the head must be the last block', 'move it to the end of "blocks"');
  });
  const bodyTypes = blocks.filter((b) => b.type !== 'embedding' && b.type !== 'patch-embedding' && b.type !== 'head');
  if (bodyTypes.length === 0) fail('$.blocks', 'no transformer blocks', `add ${family === 'vision' ? 'encoder or swin' : FAMILY_TYPES[family][1]} blocks`);
  if (family === 'decoder-only' || family === 'encoder-only' || family === 'vision') {
    blocks.forEach((b, i) => {
      if ((b.type === 'embedding' || b.type === 'patch-embedding') && i !== 0) {
        fail(`${b.path}.type`, `an ${b.type} block may only come first`, 'move it to the start of "blocks"');
      }
    });
    if (family === 'vision') {
      if (blocks[0]!.type !== 'patch-embedding') fail(`${blocks[0]!.path}.type`, 'a vision model starts with a patch-embedding block', 'add one first');
      const kinds = new Set(bodyTypes.map((b) => b.type));
      if (kinds.size > 1) fail('$.blocks', 'a vision model mixes encoder and swin blocks', 'use one kind (ViT: encoder, Swin: swin)');
    }
    return blocks.map(() => (family === 'decoder-only' ? 'decoder' : 'encoder'));
  }
  // encoder-decoder: [embedding] encoder+ | [embedding] cross-decoder+ [head]
  const lastEncoder = blocks.map((b) => b.type).lastIndexOf('encoder');
  const firstCross = blocks.findIndex((b) => b.type === 'cross-decoder');
  if (lastEncoder < 0) fail('$.blocks', 'an encoder-decoder model has no encoder blocks', 'add encoder blocks before the decoder');
  if (firstCross < 0) fail('$.blocks', 'an encoder-decoder model has no cross-decoder blocks', 'add cross-decoder blocks after the encoder');
  if (firstCross < lastEncoder) fail(`${blocks[firstCross]!.path}.type`, 'a cross-decoder block comes before an encoder block', 'put all encoder blocks first, then the decoder');
  blocks.forEach((b, i) => {
    if (b.type === 'embedding' && i !== 0 && i !== lastEncoder + 1) {
      fail(`${b.path}.type`, 'an embedding block may only start the encoder or the decoder', 'move it to the start of its chain');
    }
  });
  return blocks.map((_, i) => (i <= lastEncoder ? 'encoder' : 'decoder'));
}

/** Swin block fields: resolution derived from the previous layer, windows, patch merging. */
function swinLayer(
  layer: Omit<LayerSpec, 'index' | 'name'>,
  blk: BlockInput,
  prev: LayerSpec | undefined,
  prevResolution: number,
  merging: boolean,
  fail: Fail,
): Omit<LayerSpec, 'index' | 'name'> {
  if (!prev || prevResolution === 0) return fail(blk.path, 'a swin block needs a patch-embedding before it', 'add a patch-embedding block first');
  const window = blk.num.windowSize ?? fail(blk.path, 'missing "windowSize" for a swin block', 'set "windowSize" (Swin: 7)');
  // Patch merging concatenates 2x2 neighbours: the grid side halves (Liu et al. 2021, sec. 3.1).
  if (merging && prevResolution % 2 !== 0) {
    fail(blk.bool.patchMerging!.path, `patch merging needs an even grid side, the previous layer's is ${prevResolution}`, 'remove patchMerging here or change imageSize / patchSize');
  }
  const expected = merging ? prevResolution / 2 : prevResolution;
  const given = blk.num.resolution;
  if (given && given.value !== expected) {
    fail(given.path, `resolution ${given.value} does not match the token grid ${expected}x${expected} reaching this block`, `use ${expected} or leave it out`);
  }
  // Swin uses one window of the whole grid when the grid is not larger than the window.
  const effWindow = Math.min(window.value, expected);
  if (expected % effWindow !== 0) {
    fail(window.path, `windowSize ${window.value} does not divide the grid side ${expected}`, 'use a window that divides the grid (padding is not modelled)');
  }
  const tokens = expected * expected;
  return { ...layer, seqLength: tokens, attentionSpan: effWindow * effWindow, resolution: expected, windowSize: window.value, patchMerging: merging };
}

function checkTiedTarget(layers: LayerSpec[], hidden: number, vocab: number, path: string, fail: Fail): void {
  const emb = layers.find((l) => l.type === 'embedding' && !l.tiedEmbedding);
  if (!emb) fail(path, 'tiedEmbedding needs an embedding layer earlier in the model', 'add an embedding block or set tiedEmbedding false');
  else if (emb.vocabSize !== vocab || emb.hiddenSize !== hidden) {
    fail(path, `tied to an embedding of ${emb.vocabSize}x${emb.hiddenSize} but this layer is ${vocab}x${hidden}`, 'use the same vocabSize and hiddenSize, or set tiedEmbedding false');
  }
}

function lastOfChain(layers: LayerSpec[], chain: 'encoder' | 'decoder'): LayerSpec {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i]!.chain === chain) return layers[i]!;
  throw new Error(`no ${chain} layer`); // unreachable: assignChains guarantees an encoder
}

function nameFor(type: LayerType, chain: 'encoder' | 'decoder', family: ModelFamily, counters: Map<string, number>): string {
  if (type === 'embedding') return family === 'encoder-decoder' ? `${chain}.embedding` : 'embedding';
  if (type === 'patch-embedding' || type === 'head') return type;
  const n = counters.get(type) ?? 0;
  counters.set(type, n + 1);
  return `${type}.${n}`;
}

/** Chain edges (u, u+1) and, for encoder-decoder models, last encoder layer -> every cross-decoder. */
function buildEdges(layers: LayerSpec[], family: ModelFamily): Edge[] {
  const edges: Edge[] = [];
  for (let u = 0; u + 1 < layers.length; u++) edges.push({ from: u, to: u + 1 });
  if (family === 'encoder-decoder') {
    const enc = lastOfChain(layers, 'encoder').index;
    for (const l of layers) if (l.type === 'cross-decoder' && l.index !== enc + 1) edges.push({ from: enc, to: l.index });
  }
  return edges.sort((a, b) => a.from - b.from || a.to - b.to);
}
