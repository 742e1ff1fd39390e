// Derived quantities against closed forms: Korthikanti et al. 2022 activation memory, Kaplan /
// Narayanan FLOPs, Megatron TP collectives and divisibility, pipeline boundary tensors.
import { describe, expect, it } from 'vitest';
import {
  boundaryActivationBytes,
  dtypeBytes,
  layerActivationBytes,
  layerForwardFlopsPerSample,
  layerInputBytes,
  layerParameters,
  layerShapeKey,
  modelFlopsPerSample,
  modelFlopsPerToken,
  modelParameters,
  nonEmbeddingParameters,
  tokensPerSample,
} from './model-derive.ts';
import { layerTpCollectives, tpDivides } from './model-tp.ts';
import { loadModel } from './model-presets.ts';
import type { LayerSpec, ModelSpec } from './model-spec.ts';
import { resolveModel } from './model-resolve.ts';

/** |a - b| <= 1e-12 * |b|: the formulas are exact up to float rounding. */
function expectExact(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
}

/** A one-block standard transformer (GELU, ffn = 4h, MHA) of the given shape. */
function block(h: number, a: number, s: number, extra: Record<string, unknown> = {}): LayerSpec {
  const m = resolveModel(
    { name: 'std', family: 'decoder-only', hiddenSize: h, ffnSize: 4 * h, heads: a, seqLength: s, vocabSize: 100, blocks: [{ type: 'decoder' }], ...extra },
    'std.json',
  );
  return m.layers[0]!;
}

const first = (m: ModelSpec, type: LayerSpec['type']): LayerSpec => m.layers.find((l) => l.type === type)!;

describe('activation memory (Korthikanti et al. 2022, sec. 4)', () => {
  const shapes = [
    { h: 1024, a: 16, s: 512 },
    { h: 4096, a: 32, s: 2048 },
    { h: 12288, a: 96, s: 2048 },
    { h: 2560, a: 32, s: 4096 },
  ];

  it('standard block, 16-bit: sbh(34 + 5as/h) at tp=1 and sbh(10 + 24/t + 5as/(ht)) at tp=t', () => {
    for (const { h, a, s } of shapes) {
      const l = block(h, a, s);
      for (const b of [1, 2, 8]) {
        expectExact(layerActivationBytes(l, b, 1), s * b * h * (34 + (5 * a * s) / h));
        for (const t of [2, 4, 8]) expectExact(layerActivationBytes(l, b, t), s * b * h * (10 + 24 / t + (5 * a * s) / (h * t)));
      }
    }
  });

  it('sequence parallel: sbh/t (34 + 5as/h)', () => {
    for (const { h, a, s } of shapes) {
      const l = block(h, a, s);
      for (const t of [1, 2, 4, 8]) expectExact(layerActivationBytes(l, 4, t, { sequenceParallel: true }), ((s * 4 * h) / t) * (34 + (5 * a * s) / h));
    }
  });

  it('FlashAttention removes the 5as/h term', () => {
    const l = block(4096, 32, 2048);
    expectExact(layerActivationBytes(l, 1, 1, { flashAttention: true }), 2048 * 4096 * 34);
    expectExact(layerActivationBytes(l, 2, 4, { flashAttention: true, sequenceParallel: true }), (2048 * 2 * 4096 * 34) / 4);
  });

  it('fp32 doubles the 16-bit terms, 1-byte dropout masks stay: sbh(66 + 9as/h)', () => {
    const l = block(128, 4, 64, { dtype: 'fp32' });
    expectExact(layerActivationBytes(l, 3, 1), 64 * 3 * 128 * (66 + (9 * 4 * 64) / 128));
    // TP: replicated 4+4 norm/input bytes + 1 mask per sub-layer = 18; split 48.
    expectExact(layerActivationBytes(l, 3, 2), 64 * 3 * 128 * (18 + 48 / 2 + (9 * 4 * 64) / (128 * 2)));
  });

  it('ffn != 4h generalizes the 16sbh GELU term to 4sbf', () => {
    const l = resolveModel({ name: 'f', family: 'encoder-only', hiddenSize: 1000, ffnSize: 3000, heads: 10, seqLength: 100, vocabSize: 10, blocks: [{ type: 'encoder' }] }, 'f.json').layers[0]!;
    const [s, b, h, f, a] = [100, 2, 1000, 3000, 10];
    expectExact(layerActivationBytes(l, b, 1), 18 * s * b * h + 4 * s * b * f + 5 * a * s * s * b);
  });

  it('SwiGLU + GQA (Llama-2-70B block): 8sbf for the gated MLP, K and V sized by kvHeads * headDim', () => {
    const l = first(loadModel('llama-2-70b'), 'decoder');
    const [s, h, f, a, kvWidth] = [4096, 8192, 28672, 64, 8 * 128];
    for (const t of [1, 2, 8]) {
      const b = 1;
      const replicated = 10 * s * b * h;
      const split = 2 * s * b * h /* Q */ + 2 * 2 * s * b * kvWidth /* K, V */ + 2 * s * b * h /* proj input */ + 8 * s * b * f + 5 * a * s * s * b;
      expectExact(layerActivationBytes(l, b, t), replicated + split / t);
    }
  });

  it('cross-decoder (T5): a second attention over the encoder tokens: sbh(15 + 32/t + 10as/(ht)) when S_enc = s', () => {
    const l = first(loadModel('t5-large'), 'cross-decoder');
    const [s, h, a] = [512, 1024, 16];
    for (const t of [1, 2, 4]) expectExact(layerActivationBytes(l, 2, t), s * 2 * h * (15 + 32 / t + (10 * a * s) / (h * t)));
    // With a shorter decoder the cross-attention matrices are s x S_enc.
    const m = resolveModel(
      { name: 'ed', family: 'encoder-decoder', hiddenSize: 64, ffnSize: 256, heads: 4, seqLength: 32, decoderSeqLength: 8, vocabSize: 10, blocks: [{ type: 'encoder' }, { type: 'cross-decoder' }] },
      'ed.json',
    );
    const c = m.layers[1]!;
    const [sd, se, hd, ad] = [8, 32, 64, 4];
    const self = 34 * sd * hd + 5 * ad * sd * sd;
    const cross = 5 * sd * hd + 2 * sd * hd + 2 * 2 * se * hd + 2 * sd * hd + 5 * ad * sd * se;
    expectExact(layerActivationBytes(c, 1, 1), self + cross);
  });

  it('Swin: the as^2 term uses the window (attentionSpan); patch merging keeps 2 * 2 * s * b * 4C_in', () => {
    const swin = loadModel('swin-huge');
    const plain = swin.layers.find((l) => l.type === 'swin' && l.resolution === 14 && !l.patchMerging)!;
    const [s, h, a] = [196, 1280, 32];
    expectExact(layerActivationBytes(plain, 4, 1), s * 4 * h * 34 + 5 * a * s * 49 * 4);
    const merge = swin.layers.find((l) => l.patchMerging && l.resolution === 14)!;
    expectExact(layerActivationBytes(merge, 4, 2), s * 4 * h * (10 + 24 / 2) + (5 * a * s * 49 * 4) / 2 + 2 * 2 * s * 4 * 4 * 640);
  });

  it('embedding and heads: ids + mask; LM head 4sbh/t (1 + v/h) with sequence parallel (sec. 4.3)', () => {
    const m = loadModel('gpt-3-175b');
    const [s, h, v, b] = [2048, 12288, 50304, 1]; // vocabulary padded to a multiple of 128
    expectExact(layerActivationBytes(m.layers[0]!, b, 8), 8 * s * b + s * b * h);
    expectExact(layerActivationBytes(m.layers.at(-1)!, b, 8, { sequenceParallel: true }), ((4 * s * b * h) / 8) * (1 + v / h));
    expectExact(layerActivationBytes(m.layers.at(-1)!, b, 1), 4 * s * b * h + 4 * s * b * v);
    // BERT's MLM transform keeps its dense and GELU inputs too.
    const bert = loadModel('bert-large').layers.at(-1)!;
    expectExact(layerActivationBytes(bert, 1, 1), 8 * 512 * 1024 + 4 * 512 * 30522);
    // ViT's classifier pools: norm input over all tokens, the class vector, fp32 logits per sample.
    const vit = loadModel('vit-huge').layers.at(-1)!;
    expectExact(layerActivationBytes(vit, 2, 1), 2 * 197 * 2 * 1280 + 2 * 2 * 1280 + 4 * 2 * 1000);
  });

  it('full recomputation keeps the layer input: 2sbh in 16-bit, 4x tokens at a Swin patch merge', () => {
    expect(layerInputBytes(block(4096, 32, 2048), 2)).toBe(2 * 2048 * 2 * 4096);
    const merge = loadModel('swin-huge').layers.find((l) => l.patchMerging)!;
    expect(layerInputBytes(merge, 1)).toBe(2 * 4 * 784 * 320);
    expect(layerInputBytes(loadModel('tiny-gpt').layers[0]!, 3)).toBe(8 * 64 * 3);
  });
});

describe('parameters', () => {
  it('per layer, by hand: GPT block 12h^2 + 13h, Llama block 4h^2 + 3hf + 2h, tied head h', () => {
    const h = 12288;
    expect(layerParameters(first(loadModel('gpt-3-175b'), 'decoder'))).toBe(12 * h * h + 13 * h);
    expect(layerParameters(loadModel('gpt-3-175b').layers.at(-1)!)).toBe(2 * h); // final LayerNorm only
    expect(layerParameters(first(loadModel('llama-2-7b'), 'decoder'))).toBe(4 * 4096 ** 2 + 3 * 4096 * 11008 + 2 * 4096);
    expect(layerParameters(first(loadModel('llama-2-70b'), 'decoder'))).toBe(2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192);
    expect(layerParameters(loadModel('t5-large').layers[25]!)).toBe(0); // shared embedding table
  });

  it('matches exact Hugging Face counts where every tensor is modelled', () => {
    expect(modelParameters(loadModel('llama-2-7b'))).toBe(6_738_415_616);
    expect(modelParameters(loadModel('llama-2-70b'))).toBe(68_976_648_192);
    expect(modelParameters(loadModel('llama-3-8b'))).toBe(8_030_261_248);
    // t5-large on the Hub: 737,668,096, of which the encoder's final norm (1024) is not modelled, and
    // its two relative position bias tables (one per stack, 32 buckets x 16 heads) are one per
    // self-attention block here (24 encoder + 24 decoder blocks), as the executor builds them.
    expect(modelParameters(loadModel('t5-large'))).toBe(737_668_096 - 1024 - 2 * 32 * 16 + 48 * 32 * 16);
  });

  it('non-embedding parameters exclude token/position tables and the untied LM head', () => {
    const q = loadModel('qwen2.5-7b');
    expect(modelParameters(q) - nonEmbeddingParameters(q)).toBe(2 * 152064 * 3584);
    expect(Math.abs(nonEmbeddingParameters(q) / 6.53e9 - 1)).toBeLessThan(0.001); // Qwen2.5 report: 6.53B
    const g = loadModel('gpt-3-175b');
    expect(modelParameters(g) - nonEmbeddingParameters(g)).toBe(50304 * 12288 + 2048 * 12288);
  });
});

describe('FLOPs', () => {
  it('per token equals 6 * (matmul weights incl. LM head) + 12 * L * h * s for dense decoders', () => {
    for (const [name, L, h, f, kvWidth, V, s, gated] of [
      ['gpt-3-175b', 96, 12288, 49152, 12288, 50304, 2048, false],
      ['llama-2-7b', 32, 4096, 11008, 4096, 32000, 4096, true],
      ['llama-2-70b', 80, 8192, 28672, 1024, 32000, 4096, true],
    ] as const) {
      const m = loadModel(name);
      const weights = L * (2 * h * h + 2 * h * kvWidth + (gated ? 3 : 2) * h * f) + V * h;
      expectExact(modelFlopsPerToken(m), 6 * weights + 12 * L * h * s);
      // Kaplan et al. 2020's 6N + 12 L h s with N the non-embedding parameters, plus the LM head's
      // 6Vh (Narayanan et al. 2021 eq. 3): equal up to biases and norms (< 0.1%).
      expect(Math.abs(modelFlopsPerToken(m) / (6 * (nonEmbeddingParameters(m) + V * h) + 12 * L * h * s) - 1)).toBeLessThan(0.001);
    }
  });

  it('training is 3x forward; tokens per sample include both T5 chains', () => {
    const t5 = loadModel('t5-large');
    const fwd = t5.layers.reduce((acc, l) => acc + layerForwardFlopsPerSample(l), 0);
    expect(modelFlopsPerSample(t5)).toBe(3 * fwd);
    expect(tokensPerSample(t5)).toBe(1024);
    expectExact(modelFlopsPerToken(t5), (3 * fwd) / 1024);
  });

  it('cross-decoder, Swin and heads by hand', () => {
    const c = first(loadModel('t5-large'), 'cross-decoder');
    const [s, h, f] = [512, 1024, 4096];
    const attn = 2 * s * 4 * h * h + 4 * s * s * h;
    expect(layerForwardFlopsPerSample(c)).toBe(2 * attn + 2 * s * 2 * h * f);
    const merge = loadModel('swin-huge').layers.find((l) => l.patchMerging && l.resolution === 7)!;
    const [sw, hw] = [49, 2560];
    expect(layerForwardFlopsPerSample(merge)).toBe(2 * sw * 4 * hw * hw + 4 * sw * 49 * hw + 2 * sw * 2 * hw * 4 * hw + 2 * sw * 4 * 1280 * hw);
    expect(layerForwardFlopsPerSample(loadModel('vit-huge').layers.at(-1)!)).toBe(2 * 1280 * 1000); // pooled
    expect(layerForwardFlopsPerSample(loadModel('vit-huge').layers[0]!)).toBe(2 * 196 * 3 * 16 * 16 * 1280);
    expect(layerForwardFlopsPerSample(loadModel('tiny-gpt').layers[0]!)).toBe(0);
  });
});

describe('shape keys', () => {
  it('identical blocks share one key; Llama-2-70B has 3 distinct shapes', () => {
    const m = loadModel('llama-2-70b');
    const keys = new Set(m.layers.map(layerShapeKey));
    expect(keys.size).toBe(3);
    expect(new Set(m.layers.filter((l) => l.type === 'decoder').map(layerShapeKey)).size).toBe(1);
  });

  it('every shape field changes the key; index, name and chain do not', () => {
    const l = first(loadModel('tiny-t5'), 'cross-decoder');
    const base = layerShapeKey(l);
    for (const k of Object.keys(l) as (keyof LayerSpec)[]) {
      const v = l[k];
      const changed = typeof v === 'number' ? v + 1 : typeof v === 'boolean' ? !v : `${String(v)}x`;
      const key = layerShapeKey({ ...l, [k]: changed } as LayerSpec);
      if (k === 'index' || k === 'name' || k === 'chain') expect(key, k).toBe(base);
      else expect(key, k).not.toBe(base);
    }
  });
});

describe('pipeline boundaries', () => {
  it('decoder-only: the chain output B*s*b*h; nothing after the head', () => {
    const m = loadModel('llama-2-7b');
    expect(boundaryActivationBytes(m, 10, 4)).toBe(2 * 4096 * 4 * 4096);
    expect(boundaryActivationBytes(m, 0, 1)).toBe(2 * 4096 * 4096);
    expect(boundaryActivationBytes(m, m.layers.length - 1, 1)).toBe(0);
  });

  it('T5: the encoder output travels with the decoder stream while cross-decoders remain', () => {
    const m = loadModel('tiny-t5'); // 0 emb, 1-2 enc, 3 dec emb, 4-5 cross, 6 head; s = 32, h = 64, fp32
    const one = 4 * 32 * 2 * 64;
    expect(boundaryActivationBytes(m, 1, 2)).toBe(one); // inside the encoder
    expect(boundaryActivationBytes(m, 2, 2)).toBe(one); // after the encoder: its output, once
    expect(boundaryActivationBytes(m, 3, 2)).toBe(2 * one); // decoder embedding output + encoder output
    expect(boundaryActivationBytes(m, 4, 2)).toBe(2 * one);
    expect(boundaryActivationBytes(m, 5, 2)).toBe(one); // no cross-decoder after the cut
  });
});

describe('tensor parallelism', () => {
  it('collectives per layer (Megatron-LM): blocks 2+2, cross-decoders 3+3, embedding 1 forward, LM head 1 backward', () => {
    const t5 = loadModel('t5-large');
    const bytes = 512 * 1024 * 2;
    expect(layerTpCollectives(first(t5, 'encoder'))).toEqual({ forwardAllReduces: 2, backwardAllReduces: 2, bytesPerSample: bytes });
    expect(layerTpCollectives(first(t5, 'cross-decoder'))).toEqual({ forwardAllReduces: 3, backwardAllReduces: 3, bytesPerSample: bytes });
    expect(layerTpCollectives(t5.layers[0]!)).toEqual({ forwardAllReduces: 1, backwardAllReduces: 0, bytesPerSample: bytes });
    expect(layerTpCollectives(t5.layers.at(-1)!)).toEqual({ forwardAllReduces: 0, backwardAllReduces: 1, bytesPerSample: bytes });
    expect(layerTpCollectives(loadModel('vit-huge').layers.at(-1)!).bytesPerSample).toBe(1280 * 2);
    expect(layerTpCollectives(first(loadModel('tiny-gpt'), 'decoder')).bytesPerSample).toBe(64 * 128 * 4);
  });

  it('divisibility: heads, KV heads (Megatron: no KV replication), FFN; embeddings and heads when the vocabulary divides', () => {
    const l70 = first(loadModel('llama-2-70b'), 'decoder');
    expect([1, 2, 4, 8, 16].map((t) => tpDivides(l70, t))).toEqual([true, true, true, true, false]);
    const qwen = first(loadModel('qwen2.5-7b'), 'decoder'); // 28 heads, 4 KV heads
    expect([2, 4, 7, 8].map((t) => tpDivides(qwen, t))).toEqual([true, true, false, false]);
    const gpt13 = first(loadModel('gpt-3-13b'), 'decoder'); // 40 heads, ffn 20560
    expect([8, 16].map((t) => tpDivides(gpt13, t))).toEqual([true, false]);
    const vit = loadModel('vit-huge');
    // The patch embedding is replicated over tp (configs/model-tp.ts), so any degree is allowed.
    expect([tpDivides(vit.layers[0]!, 16), tpDivides(vit.layers[0]!, 3)]).toEqual([true, true]);
    expect([3, 8].map((t) => tpDivides(vit.layers.at(-1)!, t))).toEqual([false, true]); // 1000 classes
    expect([7, 8].map((t) => tpDivides(loadModel('llama-2-7b').layers[0]!, t))).toEqual([false, true]); // vocab 32000
    expect(tpDivides(loadModel('bert-large').layers[0]!, 4)).toBe(false); // vocab 30522: the executor would replicate
    expect(tpDivides(loadModel('gpt-3-6.7b').layers[0]!, 8)).toBe(true); // 50257 padded to 50304
    expect([0, 1.5, -2].map((t) => tpDivides(l70, t))).toEqual([false, false, false]);
  });

  it('dtype bytes', () => {
    expect([dtypeBytes('fp32'), dtypeBytes('bf16'), dtypeBytes('fp16')]).toEqual([4, 2, 2]);
  });
});

describe('layerStoredParameters', () => {
  it('a tied head holds a copy of the vocabulary table; counts stay unique', async () => {
    const { loadModel } = await import('./model-presets.ts');
    const { layerStoredParameters, layerParameters, modelParameters } = await import('./model-derive.ts');
    const gpt = loadModel('gpt-3-175b');
    const head = gpt.layers[gpt.layers.length - 1]!;
    expect(head.tiedEmbedding).toBe(true);
    expect(layerStoredParameters(head) - layerParameters(head)).toBe(head.vocabSize * head.hiddenSize);
    const llama = loadModel('llama-2-7b');
    for (const l of llama.layers) expect(layerStoredParameters(l)).toBe(layerParameters(l));
    expect(modelParameters(gpt)).toBeGreaterThan(174e9);
  });
});
