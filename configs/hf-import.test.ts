// Hugging Face config.json import. The fixtures in configs/fixtures/hf/ are written from the
// published config.json of: meta-llama/Llama-2-7b-hf, meta-llama/Llama-2-70b-hf,
// meta-llama/Meta-Llama-3-8B, mistralai/Mistral-7B-v0.1, Qwen/Qwen2.5-7B, openai-community/gpt2,
// google-bert/bert-large-uncased, google-t5/t5-large, google/vit-huge-patch14-224-in21k.
// Imports must give the same layers (shape keys, hence fingerprints) and parameter counts as the
// matching presets, and the exact published counts where every tensor is modelled.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, UniapError } from '../common/errors.ts';
import { importHuggingFaceConfig, isHuggingFaceConfig, nameFromPath, SUPPORTED_HF_MODEL_TYPES } from './hf-import.ts';
import { readJsonFile } from '../common/json-file.ts';
import { layerShapeKey, modelParameters } from './model-derive.ts';
import { loadModel, modelFingerprint } from './model-presets.ts';
import type { ModelSpec } from './model-spec.ts';
import { resolveModel } from './model-resolve.ts';

const DIR = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
const fixture = (name: string): Record<string, unknown> => readJsonFile(join(DIR, `${name}.json`)) as Record<string, unknown>;
const imported = (name: string, patch: Record<string, unknown> = {}): ModelSpec => {
  const file = join(DIR, `${name}.json`);
  return resolveModel(importHuggingFaceConfig({ ...fixture(name), ...patch }, file), file);
};

function thrown(f: () => unknown): UniapError {
  try {
    f();
  } catch (e) {
    if (e instanceof UniapError) return e;
    throw e;
  }
  throw new Error('expected a UniapError');
}

describe('Hugging Face import matches the presets', () => {
  it.each(['llama-2-7b', 'llama-2-70b', 'llama-3-8b', 'bert-large', 't5-large'])('%s: identical layers and fingerprint', (name) => {
    const hf = imported(name);
    const preset = loadModel(name);
    expect(hf.layers.map(layerShapeKey)).toEqual(preset.layers.map(layerShapeKey));
    expect(hf.edges).toEqual(preset.edges);
    expect(modelParameters(hf)).toBe(modelParameters(preset));
    expect(modelFingerprint(hf)).toBe(modelFingerprint(preset));
  });

  it('qwen2.5-7b: identical once the sequence length is the preset\'s training length', () => {
    const file = join(DIR, 'qwen2.5-7b.json');
    const cfg = importHuggingFaceConfig(fixture('qwen2.5-7b'), file);
    expect(cfg.seqLength).toBe(8192); // max_position_embeddings 131072 capped at the default training length
    expect(cfg.description).toMatch(/sequence length 8192 from max_position_embeddings 131072 capped at the 8192-token default training length/);
    const hf = resolveModel({ ...cfg, seqLength: 4096 }, file);
    expect(modelFingerprint(hf)).toBe(modelFingerprint(loadModel('qwen2.5-7b')));
    expect(modelParameters(resolveModel(cfg, file))).toBe(modelParameters(hf)); // RoPE: no position table
  });

  it('vit-huge: the published /14 backbone differs from the /16 preset only in its patch embedding and sequence', () => {
    const h14 = imported('vit-huge-patch14-224-in21k');
    const preset = loadModel('vit-huge');
    expect(h14.layers[1]).toMatchObject({ seqLength: 257, hiddenSize: 1280, ffnSize: 5120, heads: 16 });
    expect(Math.abs(modelParameters(h14) / modelParameters(preset) - 1)).toBeLessThan(0.001);
    const h16 = imported('vit-huge-patch14-224-in21k', { patch_size: 16 });
    expect(h16.layers.map(layerShapeKey)).toEqual(preset.layers.map(layerShapeKey));
    expect(modelParameters(h16)).toBe(modelParameters(preset));
  });

  it('exact published counts: GPT-2 124,439,808 and Mistral-7B 7,241,732,096', () => {
    const g = imported('gpt2');
    expect(modelParameters(g)).toBe(124_439_808);
    expect(g.layers.map((l) => l.type)).toEqual(['embedding', ...Array(12).fill('decoder'), 'head']);
    expect(g.layers[1]).toMatchObject({ ffnSize: 3072, seqLength: 1024, bias: true, activation: 'gelu' });
    expect(g.layers[13]).toMatchObject({ tiedEmbedding: true, bias: false });
    const m = imported('mistral-7b');
    expect(modelParameters(m)).toBe(7_241_732_096);
    expect(m.layers[1]).toMatchObject({ kvHeads: 8, seqLength: 8192, activation: 'swiglu' }); // 32768 capped
  });

  it('loadModel recognizes a Hugging Face file by model_type', () => {
    const m = loadModel(join(DIR, 'llama-3-8b.json'));
    expect(m.name).toBe('llama-3-8b');
    expect(modelFingerprint(m)).toBe(modelFingerprint(loadModel('llama-3-8b')));
  });
});

describe('Hugging Face import details', () => {
  it('T5 v1.1 style: gated-gelu -> swiglu, untied head, n_positions absent -> 512', () => {
    const t5 = fixture('t5-large');
    delete t5.n_positions;
    t5.num_heads = 32;
    t5.d_kv = 128; // T5-3B style: heads * d_kv != d_model
    const cfg = importHuggingFaceConfig({ ...t5, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, num_decoder_layers: 2 }, 't5-v1_1/config.json');
    expect(cfg.seqLength).toBe(512);
    const m = resolveModel(cfg, 't5-v1_1/config.json');
    const cross = m.layers.filter((l) => l.type === 'cross-decoder');
    expect(cross).toHaveLength(2);
    expect(cross[0]).toMatchObject({ activation: 'swiglu', seqLength: 512, encoderSeqLength: 512, heads: 32, headDim: 128 });
    expect(m.layers.at(-1)).toMatchObject({ tiedEmbedding: false });
  });

  it('honours head_dim and tolerates null optional fields', () => {
    const m = imported('llama-2-7b', { head_dim: 64, num_attention_heads: 48, num_key_value_heads: null });
    expect(m.layers[1]).toMatchObject({ heads: 48, kvHeads: 48, headDim: 64 });
    const g = imported('gpt2', { n_inner: null });
    expect(g.layers[1]!.ffnSize).toBe(4 * 768);
  });

  it('ViT classes from num_labels, else id2label, else 1000', () => {
    expect(imported('vit-huge-patch14-224-in21k').layers.at(-1)!.vocabSize).toBe(1000);
    expect(imported('vit-huge-patch14-224-in21k', { num_labels: 21843 }).layers.at(-1)!.vocabSize).toBe(21843);
    expect(imported('vit-huge-patch14-224-in21k', { id2label: { 0: 'cat', 1: 'dog' } }).layers.at(-1)!.vocabSize).toBe(2);
  });

  it('detects the model type from architectures when model_type is absent', () => {
    const f = fixture('bert-large');
    delete f.model_type;
    expect(isHuggingFaceConfig(f)).toBe(true);
    expect(importHuggingFaceConfig(f, 'x/config.json').family).toBe('encoder-only');
    expect(isHuggingFaceConfig({ name: 'x', family: 'vision', blocks: [] })).toBe(false);
  });

  it('unsupported architectures: UNSUPPORTED naming the supported ones', () => {
    const e = thrown(() => importHuggingFaceConfig({ model_type: 'mixtral', hidden_size: 4096 }, 'mixtral/config.json'));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toBe(
      'mixtral/config.json: Hugging Face model_type "mixtral" is not supported; supported model types: llama, mistral, qwen2, gpt2, bert, t5, vit (or write a uniap model JSON like configs/models/llama-2-7b.json)',
    );
    expect(SUPPORTED_HF_MODEL_TYPES).toHaveLength(7);
    expect(thrown(() => importHuggingFaceConfig({ architectures: ['FalconForCausalLM'] }, 'c.json')).message).toContain('architecture "FalconForCausalLM" is not supported');
  });

  it('invalid values: one line naming the file, the Hugging Face key and the fix', () => {
    const f = join(DIR, 'llama-2-7b.json');
    const noSeq = fixture('llama-2-7b');
    delete noSeq.max_position_embeddings;
    const e1 = thrown(() => importHuggingFaceConfig(noSeq, f)) as ConfigError;
    expect(e1.message).toBe(`${f}: at $.max_position_embeddings: missing "max_position_embeddings"; add "max_position_embeddings" (the training sequence length)`);
    const e2 = thrown(() => importHuggingFaceConfig({ ...fixture('llama-2-7b'), num_attention_heads: 30 }, f));
    expect(e2.message).toMatch(/at \$\.num_attention_heads: num_attention_heads 30 does not divide the hidden size 4096; /);
    const e3 = thrown(() => importHuggingFaceConfig({ ...fixture('llama-2-70b'), num_key_value_heads: 7 }, f));
    expect(e3.message).toMatch(/at \$\.num_key_value_heads: num_key_value_heads 7 does not divide num_attention_heads 64; /);
    const e4 = thrown(() => importHuggingFaceConfig({ ...fixture('gpt2'), n_embd: '768' }, f));
    expect(e4.message).toMatch(/at \$\.n_embd: expected a number, got the string "768"; /);
    const e5 = thrown(() => importHuggingFaceConfig({ ...fixture('vit-huge-patch14-224-in21k'), patch_size: 15 }, f));
    expect(e5.message).toMatch(/at \$\.patch_size: patch_size 15 does not divide image_size 224; /);
    for (const e of [e1, e2, e3, e4, e5]) expect(e.code).toBe('CONFIG_INVALID');
  });

  it('names the model after its directory for config.json, else after the file', () => {
    expect(nameFromPath('/models/Llama-2-7b-hf/config.json')).toBe('Llama-2-7b-hf');
    expect(nameFromPath('fixtures/gpt2.json')).toBe('gpt2');
  });

  it('RoPE models train at a stated length: Llama 3.1 at its original 8192, Mistral-Nemo capped at 8192, and the description says why', () => {
    const cfg = importHuggingFaceConfig(fixture('llama-3.1-8b'), join(DIR, 'llama-3.1-8b.json'));
    expect(cfg.seqLength).toBe(8192);
    expect(cfg.description).toMatch(/sequence length 8192 from rope_scaling\.original_max_position_embeddings 8192 \(max_position_embeddings 131072 is the extended context\)/);
    const nemo = imported('mistral-nemo-base-2407');
    expect(nemo.layers[1]).toMatchObject({ seqLength: 8192, headDim: 128, heads: 32, kvHeads: 8, hiddenSize: 5120 });
    expect(importHuggingFaceConfig(fixture('mistral-nemo-base-2407'), 'x.json').description).toMatch(/max_position_embeddings 1024000 capped at the 8192-token default/);
    // Learned positions keep their table size; short RoPE contexts stay.
    expect(imported('gpt2').layers[1]!.seqLength).toBe(1024);
    expect(imported('llama-2-7b').layers[1]!.seqLength).toBe(4096);
  });
});
