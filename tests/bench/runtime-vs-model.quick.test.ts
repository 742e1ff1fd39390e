// CI's quick run of bench/runtime-vs-model.ts: the benchmark must keep running end to end (profile
// on this machine, plans through the executor, predictions from both profiles). Its numbers are
// timings on a shared machine and are not asserted, only that every plan was measured and predicted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

describe('bench/runtime-vs-model.ts --quick', () => {
  it('runs every plan and predicts each with the measured and the datasheet profile', () => {
    const cache = mkdtempSync(join(tmpdir(), 'uniap-rvm-'));
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/runtime-vs-model.ts'), '--quick', '--json', '--cache-dir', cache], {
        cwd: root, encoding: 'utf8', timeout: 280_000,
      });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      const out = JSON.parse(r.stdout) as { rows: { plan: string; predictedMs: number; datasheetMs: number; measuredMs: number }[] };
      expect(out.rows.length).toBeGreaterThanOrEqual(6);
      for (const row of out.rows) {
        for (const k of ['predictedMs', 'datasheetMs', 'measuredMs'] as const) expect(row[k], `${row.plan} ${k}`).toBeGreaterThan(0);
      }
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 300_000);
});
