// bench/gpu-check.ts is the GPU check; CI has no GPU, so it runs the same code on one CPU process
// (profile, plan, calibrate, launch): the script must keep working end to end. Its numbers are
// timings on a shared machine and are not asserted, only that each profile predicted the plan.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

describe('bench/gpu-check.ts on CPU', () => {
  it('profiles, plans, calibrates and runs, and prints predicted vs measured for three profiles', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/gpu-check.ts'), '--cluster', 'local-cpu:1', '--model', 'tiny-gpt', '--steps', '6', '--warmup', '2', '--json'], {
      cwd: root, encoding: 'utf8', timeout: 280_000,
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: { profile: string; predictedMs: number; measuredMs: number; predictedMemoryBytes: number; measuredMemoryBytes: number }[] };
    expect(out.rows.map((x) => x.profile)).toEqual(['spec (datasheet)', 'measured', 'calibrated']);
    for (const row of out.rows) for (const k of ['predictedMs', 'measuredMs', 'predictedMemoryBytes', 'measuredMemoryBytes'] as const) expect(row[k], `${row.profile} ${k}`).toBeGreaterThan(0);
  }, 300_000);
});
