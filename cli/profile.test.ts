// `uniap profile` through yargs, the way cli.ts wires it: argument checks, import-galvatron writing
// the profile and the model it built, and one short real measuring run (layers only, --json).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../tests/helpers/run-command.ts';
import { isUniapError } from '../common/errors.ts';
import { loadModel } from '../configs/model-presets.ts';
import { layerShapeKey } from '../configs/model-derive.ts';
import { loadProfile } from '../profiler/profile-io.ts';
import { parseIntList, profileCommand } from './profile.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'uniap-cli-profile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIXTURES = fileURLToPath(new URL('../profiler/galvatron/fixtures/', import.meta.url));

const run = (args: string[]) => runCommand(profileCommand as never, args, { quietStderr: true });

describe('uniap profile arguments', () => {
  it('parses comma lists and refuses bad ones with the fix', () => {
    expect(parseIntList('micro-batches', '4, 1,2,2')).toEqual([1, 2, 4]);
    expect(() => parseIntList('tp', '1,x')).toThrow(/--tp "1,x" is not a comma-separated list of positive integers; write e.g. --tp 1,2,4/);
  });

  it('needs --model and --cluster', async () => {
    const err = await run(['profile']).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toContain('uniap profile needs --model M and --cluster C');
  });
});

describe('uniap profile import-galvatron', () => {
  it('writes the profile and the model built from meta_configs, and says how to plan', async () => {
    const out = path.join(tmp, 'llama', 'p.json');
    const text = await run(['profile', 'import-galvatron', FIXTURES, '--tag', 'llama/', '--out', out]);
    const modelFile = path.join(tmp, 'llama', 'llama-7b.model.json');
    expect(text).toContain(`plan with: uniap plan --model ${modelFile} --profile ${out} --batch B`);
    const profile = loadProfile(out);
    expect(profile.cluster).toEqual({ name: 'galvatron-2x8', nodes: 2, devicesPerNode: 8 });
    const model = loadModel(modelFile);
    expect(new Set(profile.layers.map((e) => e.shapeKey))).toEqual(new Set(model.layers.map(layerShapeKey)));
  });

  it('--json with --model prints a machine-readable summary and writes no model file', async () => {
    const out = path.join(tmp, 'qwen', 'p.json');
    const text = await run(['profile', 'import-galvatron', path.join(FIXTURES, 'tests_fixture'), '--tag', 'static', '--model', 'qwen2.5-7b', '--out', out, '--json']);
    const summary = JSON.parse(text) as { profile: string; hardware: string; model?: string };
    expect(summary).toMatchObject({ profile: out, hardware: '1x8', model: 'qwen2.5-7b' });
    expect(existsSync(path.join(tmp, 'qwen', 'qwen2.5-7b.model.json'))).toBe(false);
  });
});

describe('uniap profile (measuring)', () => {
  it('measures tiny-gpt layers on 2 CPU processes and writes a profile (--json)', async () => {
    const out = path.join(tmp, 'measured.json');
    const text = await run([
      'profile', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--quick', '--no-links',
      '--micro-batches', '2', '--tp', '1', '--cache-dir', path.join(tmp, 'cache'), '--json',
    ]);
    const summary = JSON.parse(text) as { profile: string; stats: { tasks: number; measured: number } };
    expect(summary.stats).toMatchObject({ tasks: 3, measured: 3 });
    const p = loadProfile(out);
    expect(p.provenance.kind).toBe('measured');
    expect(p.layers.filter((e) => e.microBatch === 2).length).toBe(3);
    expect(JSON.parse(readFileSync(out, 'utf8')).links).toEqual([]);
  }, 120_000);
});
