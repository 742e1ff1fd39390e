// `uniap plan` and `uniap compare` through yargs, the way cli.ts wires them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../tests/helpers/run-command.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUniapError } from '../common/errors.ts';
import { planCommand } from './plan.ts';
import { compareCommand } from './compare.ts';
import type { Plan } from '../planner/plan.ts';

const run = (args: string[]) => runCommand([planCommand, compareCommand] as never, args);

const base = ['--model', 'tiny-gpt', '--cluster', 'h100-1x8', '--batch', '8'];

describe('uniap plan', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints stages, strategy runs, predictions and the proof, and writes the plan', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'uniap-plan-')), 'plan.json');
    const text = await run(['plan', ...base, '--out', file]);
    expect(text).toMatch(/^Plan: tiny-gpt on h100-1x8 \(8 devices\), batch 8 = \d+ micro-batches x \d+/);
    expect(text).toMatch(/Predicted: .* per iteration, .* samples\/s, \d+ tokens\/s, MFU/);
    expect(text).toMatch(/stage\s+ranks\s+layers\s+names\s+strategy\s+memory per device/);
    expect(text).toMatch(/proven optimal for the cost model by exact/);
    const plan = JSON.parse(readFileSync(file, 'utf8')) as Plan;
    expect(plan.search?.status).toBe('optimal');
    expect(plan.stages.flatMap((s) => s.strategies).reduce((n, r) => n + r.layers[1] - r.layers[0] + 1, 0)).toBe(6);
  });

  it('--json prints the Plan', async () => {
    const plan = JSON.parse(await run(['plan', ...base, '--json', '--schedule', 'gpipe', '--stages', '2'])) as Plan;
    expect(plan.schemaVersion).toBe(1);
    expect(plan.schedule).toBe('gpipe');
    expect(plan.pipelineDegree).toBe(2);
  });

  it('fails with one INFEASIBLE line when nothing fits', async () => {
    const e = await run(['plan', ...base, '--memory-gb', '0.000001']).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isUniapError(e) && e.code).toBe('INFEASIBLE');
    expect(String((e as Error).message)).not.toMatch(/\n/);
  });

  it('compare prints the planner beside the baselines', async () => {
    const text = await run(['compare', ...base]);
    expect(text).toMatch(/uniap \(this planner\)\s+.*1\.00x/);
    expect(text).toMatch(/Megatron uniform, fastest/);
    expect(text).toMatch(/data parallel only/);
    expect(text).toMatch(/Galvatron-style/);
    expect(text).toMatch(/Megatron-style uniform configurations .*: \d+, of which \d+ \(/);
  });
});
