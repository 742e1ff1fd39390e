// resolveModel: expansion of blocks into fully filled layers, graph edges, and one-line errors that
// name the file, the JSON path and the fix.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.ts';
import type { LayerSpec, ModelConfig } from './model-spec.ts';
import { loadModel } from './model-presets.ts';
import { resolveModel } from './model-resolve.ts';

const FILE = 'models/bad.json';

/** Every LayerSpec field; `satisfies` makes the compiler flag a field added to the contract. */
const LAYER_KEYS = {
  index: 1, type: 1, name: 1, chain: 1, hiddenSize: 1, inputHiddenSize: 1, ffnSize: 1, activation: 1, heads: 1, kvHeads: 1,
  headDim: 1, seqLength: 1, attentionSpan: 1, encoderSeqLength: 1, vocabSize: 1, norm: 1, bias: 1, positionEmbedding: 1,
  resolution: 1, windowSize: 1, patchMerging: 1, patchSize: 1, imageSize: 1, channels: 1, tiedEmbedding: 1, headTransform: 1, dtype: 1,
} satisfies Record<keyof LayerSpec, 1>;

/** A small valid decoder-only config to corrupt one field at a time. */
function gpt(): Record<string, unknown> {
  return {
    name: 'g',
    family: 'decoder-only',
    hiddenSize: 256,
    ffnSize: 1024,
    heads: 8,
    seqLength: 128,
    vocabSize: 1000,
    blocks: [{ type: 'embedding' }, { type: 'decoder', count: 3 }, { type: 'head', tiedEmbedding: true }],
  };
}

function errorOf(config: unknown): ConfigError {
  try {
    resolveModel(config, FILE);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** One line: "file: at $.path: problem; fix". */
function expectOneLine(e: ConfigError, path: string, problem: RegExp, fix: RegExp): void {
  expect(e.code).toBe('CONFIG_INVALID');
  expect(e.message).not.toContain('\n');
  expect(e.message.startsWith(`${FILE}: at ${path}: `)).toBe(true);
  expect(e.jsonPath).toBe(path);
  expect(e.detail.problem).toMatch(problem);
  expect(e.detail.fix).toMatch(fix);
}

describe('resolveModel expansion', () => {
  it('expands blocks into one layer per block entry with inherited defaults', () => {
    const m = resolveModel(gpt(), 'g.json');
    expect(m.layers.map((l) => l.name)).toEqual(['embedding', 'decoder.0', 'decoder.1', 'decoder.2', 'head']);
    expect(m.layers.map((l) => l.index)).toEqual([0, 1, 2, 3, 4]);
    const d = m.layers[2]!;
    expect(d).toMatchObject({ type: 'decoder', chain: 'decoder', hiddenSize: 256, inputHiddenSize: 256, ffnSize: 1024, heads: 8, kvHeads: 8, headDim: 32 });
    expect(d).toMatchObject({ seqLength: 128, attentionSpan: 128, activation: 'gelu', norm: 'layernorm', bias: true, dtype: 'bf16', encoderSeqLength: 0 });
    expect(m.layers[0]).toMatchObject({ type: 'embedding', vocabSize: 1000, positionEmbedding: 'learned', seqLength: 128 });
    expect(m.layers[4]).toMatchObject({ type: 'head', vocabSize: 1000, tiedEmbedding: true, hiddenSize: 256 });
    expect(m.edges).toEqual([0, 1, 2, 3].map((u) => ({ from: u, to: u + 1 })));
    expect(m.source).toBe('g.json');
    expect(m.schemaVersion).toBe(1);
  });

  it('fills every LayerSpec field of every preset layer with a defined, finite value', () => {
    const keys = Object.keys(LAYER_KEYS).sort();
    for (const name of ['llama-2-70b', 't5-large', 'vit-huge', 'swin-huge', 'bert-large', 'gpt-3-13b']) {
      for (const l of loadModel(name).layers) {
        expect(Object.keys(l).sort()).toEqual(keys);
        for (const k of keys) {
          const v = (l as unknown as Record<string, unknown>)[k];
          expect(v, `${name} ${l.name}.${k}`).toBeDefined();
          if (typeof v === 'number') expect(Number.isInteger(v) && v >= 0, `${name} ${l.name}.${k}=${v}`).toBe(true);
        }
      }
    }
  });

  it('builds T5 chains with an edge from the last encoder layer to every cross-decoder', () => {
    const m = loadModel('t5-large');
    expect(m.layers).toHaveLength(51);
    const lastEnc = m.layers.filter((l) => l.chain === 'encoder').at(-1)!;
    expect(lastEnc).toMatchObject({ index: 24, type: 'encoder' });
    expect(m.layers[25]).toMatchObject({ type: 'embedding', chain: 'decoder', tiedEmbedding: true, name: 'decoder.embedding' });
    const cross = m.layers.filter((l) => l.type === 'cross-decoder');
    expect(cross).toHaveLength(24);
    for (const c of cross) {
      expect(c.encoderSeqLength).toBe(512);
      expect(m.edges).toContainEqual({ from: 24, to: c.index });
    }
    expect(m.edges).toHaveLength(50 + 24);
    // Layer order is topological: every edge goes forward.
    expect(m.edges.every((e) => e.from < e.to)).toBe(true);
  });

  it('dedupes the cross edge when a cross-decoder directly follows the encoder', () => {
    const m = resolveModel(
      {
        name: 'ed',
        family: 'encoder-decoder',
        hiddenSize: 64,
        ffnSize: 128,
        heads: 4,
        seqLength: 16,
        decoderSeqLength: 8,
        vocabSize: 100,
        blocks: [{ type: 'embedding' }, { type: 'encoder', count: 2 }, { type: 'cross-decoder', count: 2 }, { type: 'head' }],
      },
      'ed.json',
    );
    expect(m.edges).toEqual([
      { from: 0, to: 1 },
      { from: 1, to: 2 },
      { from: 2, to: 3 },
      { from: 2, to: 4 },
      { from: 3, to: 4 },
      { from: 4, to: 5 },
    ]);
    expect(m.layers[3]).toMatchObject({ seqLength: 8, attentionSpan: 8, encoderSeqLength: 16 });
  });

  it('derives vision sequence lengths: ViT class token, Swin grids halved by patch merging', () => {
    const vit = loadModel('vit-huge');
    expect(vit.layers[0]).toMatchObject({ type: 'patch-embedding', seqLength: 197, patchSize: 16, imageSize: 224, channels: 3 });
    expect(vit.layers[1]).toMatchObject({ seqLength: 197, attentionSpan: 197 });
    expect(vit.layers.at(-1)).toMatchObject({ type: 'head', vocabSize: 1000, seqLength: 197 });

    const swin = loadModel('swin-huge');
    const blocks = swin.layers.filter((l) => l.type === 'swin');
    expect(blocks.map((l) => l.resolution)).toEqual([...Array(2).fill(56), ...Array(2).fill(28), ...Array(42).fill(14), ...Array(2).fill(7)]);
    expect(blocks.map((l) => l.heads)).toEqual([...Array(2).fill(8), ...Array(2).fill(16), ...Array(42).fill(32), ...Array(2).fill(64)]);
    expect(blocks.every((l) => l.attentionSpan === 49 && l.seqLength === l.resolution ** 2)).toBe(true);
    const merges = swin.layers.filter((l) => l.patchMerging);
    expect(merges.map((l) => [l.inputHiddenSize, l.hiddenSize, l.resolution])).toEqual([
      [320, 640, 28],
      [640, 1280, 14],
      [1280, 2560, 7],
    ]);
    expect(swin.layers[0]).toMatchObject({ seqLength: 3136, positionEmbedding: 'none' });
    expect(swin.layers.at(-1)).toMatchObject({ type: 'head', hiddenSize: 2560, seqLength: 49 });
  });

  it('uses headDim when heads do not divide hidden (GPT-3 13B)', () => {
    const l = loadModel('gpt-3-13b').layers[1]!;
    expect(l).toMatchObject({ hiddenSize: 5140, heads: 40, headDim: 128 });
  });
});

describe('resolveModel errors: one line with file, JSON path and fix', () => {
  it('wrong type', () => {
    expectOneLine(errorOf({ ...gpt(), heads: '8' }), '$.heads', /expected a number, got the string "8"/, /number/);
  });

  it('missing field', () => {
    const c = gpt();
    delete c.family;
    expectOneLine(errorOf(c), '$.family', /missing field "family"/, /add "family"/);
    const noSeq = gpt();
    delete noSeq.seqLength;
    expectOneLine(errorOf(noSeq), '$.seqLength', /missing "seqLength"/, /add "seqLength"/);
    const noHeads = gpt();
    delete noHeads.heads;
    expectOneLine(errorOf(noHeads), '$.blocks[1]', /missing "heads" for a decoder block/, /set "heads"/);
  });

  it('negative or fractional size', () => {
    expectOneLine(errorOf({ ...gpt(), hiddenSize: -256 }), '$.hiddenSize', /must be positive/, />/);
    const c = gpt();
    (c.blocks as Record<string, unknown>[])[1]!.count = 2.5;
    expectOneLine(errorOf(c), '$.blocks[1].count', /expected an integer/, /whole number/);
  });

  it('unknown key, at the top level and in a block', () => {
    expectOneLine(errorOf({ ...gpt(), hidenSize: 256 }), '$.hidenSize', /unknown key "hidenSize"/, /hiddenSize/);
    const c = gpt();
    (c.blocks as Record<string, unknown>[])[1]!.layers = 3;
    expectOneLine(errorOf(c), '$.blocks[1].layers', /unknown key "layers"/, /count/);
  });

  it('a field that does not apply to the block type', () => {
    const c = gpt();
    (c.blocks as Record<string, unknown>[])[1]!.windowSize = 7;
    expectOneLine(errorOf(c), '$.blocks[1].windowSize', /"windowSize" does not apply to a decoder block/, /remove it/);
  });

  it('heads not dividing hidden, kvHeads not dividing heads', () => {
    expectOneLine(errorOf({ ...gpt(), heads: 6 }), '$.heads', /heads 6 does not divide hiddenSize 256/, /headDim/);
    expectOneLine(errorOf({ ...gpt(), kvHeads: 3 }), '$.kvHeads', /kvHeads 3 does not divide heads 8/, /divides heads/);
  });

  it('block types inconsistent with the family, and misplaced blocks', () => {
    const c = gpt();
    (c.blocks as Record<string, unknown>[])[1]!.type = 'encoder';
    expectOneLine(errorOf(c), '$.blocks[1].type', /"encoder" block does not belong in a decoder-only model/, /change "family"/);
    const h = gpt();
    (h.blocks as unknown[]).unshift({ type: 'head' });
    expectOneLine(errorOf(h), '$.blocks[0].type', /head must be the last block/, /move it/);
    const ed = { ...gpt(), family: 'encoder-decoder', blocks: [{ type: 'embedding' }, { type: 'encoder', count: 2 }, { type: 'head' }] };
    expectOneLine(errorOf(ed), '$.blocks', /no cross-decoder blocks/, /add cross-decoder/);
    expectOneLine(errorOf({ ...gpt(), decoderSeqLength: 64 }), '$.decoderSeqLength', /only to encoder-decoder/, /remove it/);
  });

  it('tied head without an embedding; hidden size breaking the residual stream', () => {
    const c = gpt();
    c.blocks = [{ type: 'decoder', count: 2 }, { type: 'head', tiedEmbedding: true }];
    expectOneLine(errorOf(c), '$.blocks[1].tiedEmbedding', /needs an embedding layer/, /add an embedding/);
    const w = gpt();
    (w.blocks as Record<string, unknown>[])[2]!.hiddenSize = 512;
    expectOneLine(errorOf(w), '$.blocks[2].hiddenSize', /differs from the previous layer's 256/, /use 256/);
  });

  it('vision: inconsistent Swin resolution and window, seqLength given', () => {
    const swin = (blocks: unknown[]) => ({ name: 's', family: 'vision', vocabSize: 10, ffnSize: 64, heads: 2, blocks: [{ type: 'patch-embedding', hiddenSize: 16, patchSize: 4, imageSize: 56, positionEmbedding: 'none' }, ...blocks] });
    expect(() => resolveModel(swin([{ type: 'swin', hiddenSize: 16, windowSize: 7, count: 2 }, { type: 'head' }]), FILE)).not.toThrow();
    expectOneLine(errorOf(swin([{ type: 'swin', hiddenSize: 16, windowSize: 7, resolution: 28 }])), '$.blocks[1].resolution', /does not match the token grid 14x14/, /use 14/);
    expectOneLine(errorOf(swin([{ type: 'swin', hiddenSize: 16, windowSize: 5 }])), '$.blocks[1].windowSize', /does not divide the grid side 14/, /window/);
    expectOneLine(
      errorOf(swin([{ type: 'swin', hiddenSize: 16, windowSize: 7 }, { type: 'swin', hiddenSize: 32, windowSize: 7, patchMerging: true, count: 2 }])),
      '$.blocks[2].count',
      /count 2 on a Swin block with patchMerging/,
      /split the stage/,
    );
    expectOneLine(errorOf({ ...swin([{ type: 'swin', hiddenSize: 16, windowSize: 7 }]), seqLength: 196 }), '$.seqLength', /derive the sequence length/, /remove "seqLength"/);
  });

  it('checks the name and the schema version', () => {
    expectOneLine(errorOf({ ...gpt(), name: ' ' }), '$.name', /empty/, /name/);
    expectOneLine(errorOf({ ...gpt(), schemaVersion: 2 }), '$.schemaVersion', /not supported/, /use 1/);
    expectOneLine(errorOf([]), '$', /expected an object/, /JSON object/);
  });

  it('is typed against ModelConfig', () => {
    const c: ModelConfig = { name: 'x', family: 'encoder-only', hiddenSize: 32, ffnSize: 64, heads: 2, seqLength: 8, vocabSize: 50, blocks: [{ type: 'embedding' }, { type: 'encoder' }, { type: 'head' }] };
    const layers: LayerSpec[] = resolveModel(c, 'x.json').layers;
    expect(layers.map((l) => l.chain)).toEqual(['encoder', 'encoder', 'encoder']);
  });
});
