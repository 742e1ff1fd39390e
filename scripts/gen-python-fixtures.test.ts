// The pytest fixtures (python/tests/fixtures/models.json) are what scripts/gen-python-fixtures.ts
// makes from the current TypeScript facts, so Python never tests against facts TypeScript no longer resolves.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { FIXTURE_FILE, REGENERATE, fixtureModels, generate } from './gen-python-fixtures.ts';

describe('python test fixtures', () => {
  it(`are up to date (regenerate with \`${REGENERATE}\`)`, () => {
    const current = existsSync(FIXTURE_FILE) ? readFileSync(FIXTURE_FILE, 'utf8') : '';
    expect(current === generate(), `python/tests/fixtures/models.json is stale; run \`${REGENERATE}\``).toBe(true);
  });

  it('cover every layer type and the variants the Python layers build', () => {
    const layers = fixtureModels().flatMap((m) => m.layers.map((l, u) => ({ l, f: m.facts.layers[u]! })));
    const has = (p: (x: (typeof layers)[number]) => boolean) => layers.some(p);
    expect(new Set(layers.map((x) => x.l.type))).toEqual(new Set(['embedding', 'patch-embedding', 'encoder', 'decoder', 'cross-decoder', 'swin', 'head']));
    expect(has(({ l }) => l.type === 'decoder' && l.positionEmbedding === 'rope' && l.kvHeads < l.heads && l.activation === 'swiglu' && l.norm === 'rmsnorm')).toBe(true);
    expect(has(({ l }) => l.type === 'decoder' && l.activation === 'gelu' && l.norm === 'layernorm' && l.bias)).toBe(true);
    expect(has(({ l }) => l.type === 'embedding' && l.positionEmbedding === 'learned')).toBe(true);
    expect(has(({ l, f }) => l.type === 'head' && f.head?.pooling === 'none' && f.tiedTo !== null && !f.head.transform)).toBe(true);
    expect(has(({ l }) => l.type === 'encoder' && l.positionEmbedding === 'relative')).toBe(true);
    expect(has(({ l, f }) => l.type === 'embedding' && f.tiedTo !== null)).toBe(true);
    expect(has(({ l }) => l.type === 'cross-decoder' && l.encoderSeqLength !== l.seqLength)).toBe(true);
    expect(has(({ f }) => f.head?.transform === true && f.head.outputBias)).toBe(true);
    expect(has(({ l }) => l.type === 'patch-embedding' && l.positionEmbedding === 'learned')).toBe(true);
    expect(has(({ l }) => l.type === 'patch-embedding' && l.positionEmbedding === 'none')).toBe(true);
    expect(has(({ f }) => f.head?.pooling === 'cls')).toBe(true);
    expect(has(({ f }) => f.head?.pooling === 'mean')).toBe(true);
    expect(has(({ l }) => l.type === 'swin' && l.index % 2 === 0 && l.resolution > l.windowSize)).toBe(true); // shifted windows
    expect(has(({ l }) => l.type === 'swin' && l.patchMerging)).toBe(true);
    expect(has(({ l, f }) => l.type === 'head' && f.head?.pooling !== 'none' && l.vocabSize % 2 !== 0)).toBe(true);
    for (const { l } of layers) {
      expect(l.hiddenSize, l.name).toBeLessThanOrEqual(32);
      expect(l.seqLength, l.name).toBeLessThanOrEqual(16);
    }
  });
});
