// --seq-length and the Hugging Face training-length default, through the real CLI: the output says
// which length was used and why; bad values are one error line.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const hf = (name: string) => join(root, 'configs/fixtures/hf', `${name}.json`);
function uniap(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/uniap.js'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const predictedMs = (out: string) => {
  const m = /Predicted: ([\d.]+) (ms|s) per iteration/.exec(out)!;
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
};

describe('sequence length', () => {
  it('Llama 3.1 plans at its pre-training 8192 (not 131072) and says so; --seq-length changes it and the time', () => {
    const base = uniap('plan', '--model', hf('llama-3.1-8b'), '--cluster', 'h100-1x8', '--batch', '8');
    expect(base.code, base.err).toBe(0);
    expect(base.out).toMatch(/Sequence length: 8192 tokens per sample \(Hugging Face config: rope_scaling\.original_max_position_embeddings 8192/);
    const short = uniap('plan', '--model', hf('llama-3.1-8b'), '--cluster', 'h100-1x8', '--batch', '8', '--seq-length', '2048');
    expect(short.code, short.err).toBe(0);
    expect(short.out).toMatch(/Sequence length: 2048 tokens per sample \(--seq-length\)/);
    expect(predictedMs(short.out)).toBeLessThan(predictedMs(base.out) / 2);
  });

  it('Mistral-Nemo (max_position_embeddings 1,024,000) defaults to 8192 and says why; describe and compare take --seq-length', () => {
    const d = uniap('describe', '--model', hf('mistral-nemo-base-2407'));
    expect(d.out).toMatch(/Sequence length: 8192 tokens per sample \(Hugging Face config: max_position_embeddings 1024000 capped at the 8192-token default/);
    const d2 = uniap('describe', '--model', hf('mistral-nemo-base-2407'), '--seq-length', '1024');
    expect(d2.out).toMatch(/sequence length\s+1024 tokens per sample/);
    const c = uniap('compare', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '4', '--seq-length', '32');
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/Sequence length: 32 tokens per sample \(--seq-length\)/);
  });

  it('bad values and a plan made at another length are one error line', () => {
    for (const bad of ['0', 'abc', '2.5']) {
      const r = uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '4', '--seq-length', bad);
      expect(r.code).not.toBe(0);
      expect(r.err.split('\n')[0]).toMatch(/^uniap: error: --seq-length must be a whole number of tokens >= 1/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    const v = uniap('describe', 'vit-huge', '--seq-length', '64');
    expect(v.code).not.toBe(0);
    expect(v.err.trim().split('\n')).toHaveLength(1);
    expect(v.err).toMatch(/vision model: its tokens per sample come from the image and patch size; leave out --seq-length/);
    const dir = mkdtempSync(join(tmpdir(), 'uniap-seq-'));
    const plan = join(dir, 'p.json');
    expect(uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '4', '--out', plan).code).toBe(0);
    const e = uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--plan', plan, '--seq-length', '32');
    expect(e.code).not.toBe(0);
    expect(e.err.trim().split('\n')).toHaveLength(1);
    expect(e.err).toMatch(/^uniap: error: .*fingerprint/);
  });

  it('launch takes --seq-length: a plan made at 32 tokens runs at 32, refuses the default length, and a Slurm script passes it on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uniap-seq-launch-'));
    const plan = join(dir, 'p32.json');
    expect(uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '4', '--seq-length', '32', '--out', plan).code).toBe(0);
    const wrong = uniap('launch', '--plan', plan, '--model', 'tiny-gpt', '--slurm', join(dir, 'x.sbatch'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.err.trim().split('\n')).toHaveLength(1);
    expect(wrong.err).toMatch(/^uniap: error: /);
    const script = join(dir, 'run.sbatch');
    const ok = uniap('launch', '--plan', plan, '--model', 'tiny-gpt', '--seq-length', '32', '--slurm', script);
    expect(ok.code, ok.err).toBe(0);
    expect(readFileSync(script, 'utf8')).toMatch(/cli\/launch\.ts --coordinator .* --model tiny-gpt --seq-length 32 /);
  });
});
