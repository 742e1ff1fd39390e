// `uniap models` output (table and --json) and the model part of `uniap describe`.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../tests/helpers/run-command.ts';
import { loadModel, modelPresetNames } from '../configs/model-presets.ts';
import { formatModelDescription, modelsCommand } from './models.ts';

const run = (json: boolean) => runCommand(modelsCommand as never, json ? ['models', '--json'] : ['models']);

describe('uniap models', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints a table of every preset with family, layers, parameters, seq and dtype', async () => {
    const lines = (await run(false)).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^name\s+family\s+layers\s+parameters\s+seq\s+dtype$/);
    expect(lines).toHaveLength(2 + modelPresetNames().length);
    expect(lines.find((l) => l.startsWith('llama-2-70b '))).toMatch(/^llama-2-70b\s+decoder-only\s+82\s+68\.98B\s+4096\s+bf16$/);
    expect(lines.find((l) => l.startsWith('bert-large '))).toMatch(/encoder-only\s+26\s+335\.2M\s+512\s+bf16$/);
    expect(lines.find((l) => l.startsWith('tiny-t5 '))).toMatch(/encoder-decoder\s+7\s+247\.0K\s+32\s+fp32$/);
  });

  it('prints JSON with --json', async () => {
    const list = JSON.parse(await run(true)) as { name: string; parameters: number; family: string; seqLength: number }[];
    expect(list.map((p) => p.name)).toEqual(modelPresetNames());
    expect(list.find((p) => p.name === 'llama-2-7b')).toMatchObject({ parameters: 6_738_415_616, family: 'decoder-only', seqLength: 4096 });
  });
});

describe('formatModelDescription', () => {
  it('shows parameters, FLOPs per token, model states and the distinct layer shapes', () => {
    const text = formatModelDescription(loadModel('llama-2-7b'));
    expect(text).toContain('model llama-2-7b (decoder-only, bf16; from llama-2-7b; fingerprint ');
    expect(text).toMatch(/parameters\s+6\.74B \(6,738,415,616; non-embedding 6\.48B\)/);
    expect(text).toMatch(/training FLOPs\s+4\.608e10 per token/);
    expect(text).toMatch(/model states\s+112\.96 GiB unsharded \(18 B\/parameter: AdamW, 16-bit weights, fp32 gradients and master weights\)/);
    expect(text).toMatch(/layers\s+34: 1 embedding, 32 decoder, 1 head/);
    expect(text).toMatch(/decoder\.0\s+32\s+4096\s+11008\s+32\s+4096\s+202\.4M/);
    expect(formatModelDescription(loadModel('llama-2-70b'))).toMatch(/decoder\.0\s+80\s+8192\s+28672\s+64\/8/);
    expect(formatModelDescription(loadModel('tiny-t5'))).toMatch(/sequence length\s+32 encoder \+ 32 decoder tokens per sample/);
  });
});
