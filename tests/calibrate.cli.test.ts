// `uniap calibrate` end to end on local-cpu:2 through the real CLI: plans run through launch (gRPC
// coordinator, worker, PyTorch executors, Redis), a calibrated profile is written whose provenance
// records the fit, and `plan` accepts it. Bad input gets one error line; Ctrl-C writes nothing.
// Timings are not asserted (a shared machine): only that every plan was measured and predicted.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProfile } from '../profiler/profile-io.ts';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/uniap.js');
const dir = mkdtempSync(join(tmpdir(), 'uniap-calibrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function uniap(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function oneLineError(r: { code: number | null; err: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  // A usage error (yargs) adds the standard pointer to --help; the error itself is one line.
  const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('Run `uniap --help`'));
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^uniap: error: /);
  expect(lines[0]).toMatch(pattern);
}

describe('uniap calibrate', () => {
  it('runs plans on local-cpu:2, writes a calibrated profile with its fit, and plan uses it', () => {
    const out = join(dir, 'calibrated.json');
    const r = uniap(['calibrate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--plans', '4', '--steps', '4', '--warmup', '1'], 280_000);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/Calibration: 4 plan\(s\) on local-cpu/);
    expect(r.out).toMatch(/Held-out plans \(1, not used to fit\): before time MAPE \d+\.\d%.*after time MAPE \d+\.\d%/);
    expect(r.out).toMatch(/Factors: compute x\d/);
    expect(r.err).toMatch(/calibrate: plan 4: /);
    const p = parseProfile(JSON.parse(readFileSync(out, 'utf8')), out);
    const c = p.provenance.calibration!;
    expect(c.plans.map((x) => x.role)).toEqual(['fit', 'held-out', 'fit', 'fit']);
    expect(c.timedSteps).toBe(3);
    for (const x of c.plans) {
      for (const k of ['measuredMs', 'predictedBeforeMs', 'predictedAfterMs', 'measuredMemoryBytes', 'predictedAfterMs'] as const) expect(x[k], `${x.name} ${k}`).toBeGreaterThan(0);
    }
    // The calibrated numbers are the profile's own: reserved memory is the fitted runtime overhead.
    expect(p.device.reservedBytes).toBe(Math.round(c.factors.reservedBytes));
    const plan = uniap(['plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--profile', out, '--batch', '8']);
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toMatch(/Predicted: /);
  }, 300_000);

  it('refuses bad input with one line and writes nothing', () => {
    const out = join(dir, 'never.json');
    oneLineError(uniap(['calibrate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--steps', '3', '--warmup', '3']), /--steps 3 must be larger than --warmup 3/);
    oneLineError(uniap(['calibrate', '--model', 'tiny-gpt', '--out', out]), /no cluster given; pass --cluster/);
    oneLineError(uniap(['calibrate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--batch', '3']), /pass --batch with a multiple of 4/);
    oneLineError(uniap(['calibrate', '--model', 'no-such-model', '--cluster', 'local-cpu:2', '--out', out]), /no-such-model/);
    oneLineError(uniap(['calibrate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--profile', join(dir, 'missing.json')]), /profile file .*missing\.json not found/);
    expect(existsSync(out)).toBe(false);
  });

  it('stops on Ctrl-C: exit 130, one line saying so, no profile written', async () => {
    const out = join(dir, 'interrupted.json');
    const child = spawn(process.execPath, [bin, 'calibrate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--out', out, '--plans', '3', '--steps', '40', '--warmup', '1'], { cwd: root });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    // Interrupt once the first plan runs.
    await new Promise<void>((res, rej) => {
      const t = setInterval(() => {
        if (/calibrate: plan 1: /.test(err)) {
          clearInterval(t);
          setTimeout(() => {
            child.kill('SIGINT');
            res();
          }, 3000);
        }
      }, 100);
      setTimeout(() => rej(new Error(`no plan started: ${err}`)), 120_000);
    });
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    expect(code, err).toBe(130);
    expect(err).toMatch(/uniap: error: calibration interrupted/);
    expect(existsSync(out)).toBe(false);
  }, 200_000);
});
