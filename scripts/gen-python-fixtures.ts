// Generates python/tests/fixtures/models.json: small resolved models with their facts
// (configs/model-facts.ts withFacts), covering every layer type and variant the Python layers build,
// so the pytest suite (python/tests/) reads the facts TypeScript resolves instead of re-deriving them.
// Dimensions are tiny (hidden 16-32, at most 16 tokens, 16x16 images) so the tp=2 parity tests run in
// seconds on 2 CPU cores. Run after changing the models below or anything the facts derive from:
//   npx tsx scripts/gen-python-fixtures.ts          (writes the file)
//   npx tsx scripts/gen-python-fixtures.ts --check  (exit 1 when the file is stale)
// scripts/gen-python-fixtures.test.ts fails when the committed file differs from a fresh generation.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withFacts, type ModelSpecWithFacts } from '../configs/model-facts.ts';
import type { ModelConfig } from '../configs/model-spec.ts';
import { resolveModel } from '../configs/model-resolve.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE_FILE = join(repoRoot, 'python', 'tests', 'fixtures', 'models.json');
export const REGENERATE = 'npx tsx scripts/gen-python-fixtures.ts';

/** The model configs, one per family variant; each comment says what it covers. */
export const FIXTURE_CONFIGS: ModelConfig[] = [
  {
    // Llama-style: rope, grouped-query attention (4 heads, 2 KV heads), SwiGLU, RMSNorm, no biases, untied head.
    name: 'fixture-llama', family: 'decoder-only', dtype: 'fp32',
    hiddenSize: 32, ffnSize: 64, activation: 'swiglu', heads: 4, kvHeads: 2, seqLength: 8, vocabSize: 64,
    norm: 'rmsnorm', bias: false,
    blocks: [{ type: 'embedding', positionEmbedding: 'rope' }, { type: 'decoder', count: 2 }, { type: 'head' }],
  },
  {
    // GPT-style: learned positions, GELU, LayerNorm, biases, LM head tied to the embedding.
    name: 'fixture-gpt', family: 'decoder-only', dtype: 'fp32',
    hiddenSize: 32, ffnSize: 64, activation: 'gelu', heads: 4, seqLength: 8, vocabSize: 64, norm: 'layernorm', bias: true,
    blocks: [{ type: 'embedding', positionEmbedding: 'learned' }, { type: 'decoder' }, { type: 'head', tiedEmbedding: true }],
  },
  {
    // T5-style encoder-decoder: relative position bias, cross-decoders attending to an encoder output of
    // another length, the decoder embedding and the head tied to the encoder embedding.
    name: 'fixture-t5', family: 'encoder-decoder', dtype: 'fp32',
    hiddenSize: 16, ffnSize: 32, activation: 'gelu', heads: 4, seqLength: 8, decoderSeqLength: 6, vocabSize: 32,
    norm: 'rmsnorm', bias: false,
    blocks: [
      { type: 'embedding', positionEmbedding: 'relative' },
      { type: 'encoder', count: 2 },
      { type: 'embedding', positionEmbedding: 'relative', tiedEmbedding: true },
      { type: 'cross-decoder', count: 2 },
      { type: 'head', tiedEmbedding: true },
    ],
  },
  {
    // BERT-style encoder-only: MLM head with the dense + GELU + LayerNorm transform, tied table, output bias.
    name: 'fixture-bert', family: 'encoder-only', dtype: 'fp32',
    hiddenSize: 32, ffnSize: 64, activation: 'gelu', heads: 4, seqLength: 8, vocabSize: 64, norm: 'layernorm', bias: true,
    blocks: [{ type: 'embedding', positionEmbedding: 'learned' }, { type: 'encoder' }, { type: 'head', tiedEmbedding: true, headTransform: true }],
  },
  {
    // ViT: patch embedding with a class token and learned positions (16x16 image, 8x8 patches: 4 + 1
    // tokens), classifier pooling the class token, 10 classes.
    name: 'fixture-vit', family: 'vision', dtype: 'fp32',
    hiddenSize: 32, ffnSize: 64, activation: 'gelu', heads: 4, vocabSize: 10, norm: 'layernorm', bias: true,
    blocks: [{ type: 'patch-embedding', patchSize: 8, imageSize: 16, channels: 3, positionEmbedding: 'learned' }, { type: 'encoder' }, { type: 'head' }],
  },
  {
    // Swin: patch embedding without positions (4x4 grid), a W-MSA block then a shifted SW-MSA block
    // (window 2), a block with patch merging (2x2 grid, hidden 16 -> 32), mean-pooled classifier.
    name: 'fixture-swin', family: 'vision', dtype: 'fp32',
    activation: 'gelu', vocabSize: 10, norm: 'layernorm', bias: true,
    blocks: [
      { type: 'patch-embedding', hiddenSize: 16, patchSize: 4, imageSize: 16, channels: 3, positionEmbedding: 'none' },
      { type: 'swin', count: 2, hiddenSize: 16, ffnSize: 32, heads: 2, windowSize: 2 },
      { type: 'swin', patchMerging: true, hiddenSize: 32, ffnSize: 64, heads: 4, windowSize: 2 },
      { type: 'head' },
    ],
  },
  {
    // A classifier whose class count (9) tp=2 does not divide: its head must refuse tp=2.
    name: 'fixture-vit-9-classes', family: 'vision', dtype: 'fp32',
    hiddenSize: 16, ffnSize: 32, activation: 'gelu', heads: 2, vocabSize: 9, norm: 'layernorm', bias: true,
    blocks: [{ type: 'patch-embedding', patchSize: 8, imageSize: 16, channels: 3, positionEmbedding: 'learned' }, { type: 'encoder' }, { type: 'head' }],
  },
];

export function fixtureModels(): ModelSpecWithFacts[] {
  return FIXTURE_CONFIGS.map((c) => withFacts(resolveModel(c, `scripts/gen-python-fixtures.ts#${c.name}`)));
}

/** The fixture file's text; pure (writes nothing). */
export function generate(): string {
  return `${JSON.stringify(fixtureModels(), null, 2)}\n`;
}

function main(argv: string[]): void {
  const text = generate();
  const rel = relative(repoRoot, FIXTURE_FILE);
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(FIXTURE_FILE, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      process.stderr.write(`${rel} is stale; run \`${REGENERATE}\`\n`);
      process.exit(1);
    }
    process.stdout.write(`${rel} is up to date\n`);
    return;
  }
  mkdirSync(dirname(FIXTURE_FILE), { recursive: true });
  writeFileSync(FIXTURE_FILE, text);
  process.stdout.write(`wrote ${rel}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
