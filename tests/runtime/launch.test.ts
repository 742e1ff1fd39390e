// `uniap launch` end to end, as a user runs it (the command as its own program): the tiny-gpt preset
// with a hand-written data-parallel plan over 2 CPU processes, through the real PyTorch executor;
// then with the executor test double: progress output, a failing rank, and a worker killed mid-run
// with --restart-on-failure (the job resumes from its checkpoint).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { uniapProcess } from '../../common/processes.ts';
import type { JobEvent, JobStatus } from '../../runtime/control/types.ts';
import { DOUBLE_EXECUTOR_ROOT, REPO_ROOT, isAlive, waitFor } from './helpers.ts';

const PLAN = join(REPO_ROOT, 'tests', 'runtime', 'fixtures', 'tiny-gpt-dp2.plan.json');
const REAL_EXECUTOR = join(REPO_ROOT, 'runtime', 'executor', 'uniap_exec', 'main.py');

interface Run {
  pid: number;
  out: string[];
  err: string[];
  code: Promise<number | null>;
}

const running: Run[] = [];
afterEach(async () => {
  // A launch still running after its test (a failed assertion) is stopped like a user would: SIGTERM.
  for (const r of running.splice(0)) {
    if (isAlive(r.pid)) process.kill(r.pid, 'SIGTERM');
    await r.code;
  }
});

function launch(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const p = uniapProcess('launch', ['--plan', PLAN, '--model', 'tiny-gpt', ...args]);
  const child = spawn(p.command, p.args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (d: Buffer) => err.push(...d.toString().split('\n').filter(Boolean)));
  const run: Run = { pid: child.pid!, out, err, code: new Promise((r) => child.once('exit', (c) => r(c))) };
  running.push(run);
  return run;
}

const double = { UNIAP_EXECUTOR_ROOT: DOUBLE_EXECUTOR_ROOT, UNIAP_TEST_STEP_MS: '20' };

/** Pids of the direct children of `pid` whose command line contains `needle`. */
function childrenOf(pid: number, needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
        return ppid === pid && cmd.includes(needle) ? [Number(d)] : [];
      } catch {
        return [];
      }
    });
}

describe('uniap launch', () => {
  it.skipIf(!existsSync(REAL_EXECUTOR))('trains tiny-gpt with a data-parallel plan on 2 CPU processes through the PyTorch executor', async () => {
    const run = launch(['--steps', '3', '--json']);
    expect(await run.code, run.err.join('\n')).toBe(0);
    const lines = run.out.map((l) => JSON.parse(l) as JobEvent | { status: JobStatus });
    const status = (lines.find((l) => 'status' in l) as { status: JobStatus }).status;
    expect(status.state).toBe('succeeded');
    expect(status.lastStep).toBe(3);
    expect(status.worldSize).toBe(2);
    expect(status.predictedTimePerIterationMs).toBe(40);
    const steps = lines.flatMap((l) => ('body' in l && l.body.kind === 'step' ? [l.body.summary] : []));
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) {
      expect(s.loss).toBeGreaterThan(0);
      expect(s.tokensPerSecond).toBeGreaterThan(0);
      expect(s.memoryBytesPerRank).toHaveLength(2);
    }
    // tiny-gpt's loss starts near ln(vocab 512) = 6.24.
    expect(steps[0]!.loss!).toBeGreaterThan(5);
    expect(steps[0]!.loss!).toBeLessThan(7.5);
    for (const r of status.ranks) expect(isAlive(r.pid!)).toBe(false);
  }, 120_000);

  it.skipIf(!existsSync(REAL_EXECUTOR))('a worker killed mid-run ends the PyTorch job within the heartbeat timeout, naming the worker; no process is left', async () => {
    const run = launch(['--steps', '1000', '--local-workers', '2', '--heartbeat-interval-ms', '200', '--heartbeat-timeout-ms', '3000']);
    await waitFor('the first iteration', () => run.out.some((l) => / step 1\/1000 /.test(l)), 100_000);
    const workers = [...childrenOf(run.pid, '--id local-0'), ...childrenOf(run.pid, '--id local-1')];
    const executors = workers.flatMap((w) => childrenOf(w, 'uniap_exec.main'));
    expect(workers).toHaveLength(2);
    expect(executors).toHaveLength(2);
    const [victim] = childrenOf(run.pid, '--id local-1');
    process.kill(victim!, 'SIGKILL');
    expect(await run.code).toBe(2);
    expect(run.err.join('\n')).toMatch(/^uniap: error: worker local-1 \(127\.0\.0\.1, rank 1\) stopped answering heartbeats for \d+ ms \(timeout 3000 ms\)/m);
    for (const pid of [...workers, ...executors]) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  }, 120_000);

  it('shows a progress line per iteration with predicted vs measured time, on two local workers', async () => {
    const run = launch(['--steps', '4', '--local-workers', '2', '--device-kind', 'cpu'], double);
    expect(await run.code, run.err.join('\n')).toBe(0);
    const text = run.out.join('\n');
    expect(text).toMatch(/workers: 2 local process\(es\), 2 cpu device\(s\)/);
    expect(text).toMatch(/job starting: 2 ranks on local-0 \(1\), local-1 \(1\); master 127\.0\.0\.1:\d+, gloo/);
    for (let k = 1; k <= 4; k++) expect(text).toMatch(new RegExp(`\\] step ${k}/4  loss \\d+\\.\\d{4}  .* tok/s  .* samples/s  iter .* \\(predicted 40\\.0 ms, \\d+\\.\\d\\dx\\)`));
    expect(text).toMatch(/job job-\S+ succeeded: 4 iterations, final loss \d\.\d{4}, mean iteration .* \(predicted 40\.0 ms, measured\/predicted \d+\.\d\dx\)/);
  });

  it('a failing rank ends the launch with one error line naming rank and worker, and a non-zero exit', async () => {
    const run = launch(['--steps', '5', '--device-kind', 'cpu'], { ...double, UNIAP_TEST_FAIL_RANK: '1', UNIAP_TEST_FAIL_STEP: '2' });
    expect(await run.code).toBe(2);
    // Rank 0's collective breaks right after; whichever exit is seen first, rank 1's error is the cause.
    expect(run.err.join('\n')).toMatch(/^uniap: error: rank 1 on worker local-0 (\(pid \d+\) exited with code 3: injected failure at step 2|failed: injected failure at step 2; then rank 0 .*)$/m);
    expect(run.err.join('\n')).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('with --restart-on-failure, a worker killed mid-run is replaced and the job resumes from its checkpoint', async () => {
    const run = launch(
      ['--steps', '30', '--local-workers', '2', '--device-kind', 'cpu', '--restart-on-failure', '--checkpoint-every', '5', '--heartbeat-interval-ms', '200', '--heartbeat-timeout-ms', '3000'],
      { ...double, UNIAP_TEST_STEP_MS: '100' },
    );
    await waitFor('iteration 7', () => run.out.some((l) => / step 7\/30 /.test(l)));
    const [victim] = childrenOf(run.pid, '--id local-1');
    expect(victim).toBeGreaterThan(0);
    process.kill(victim!, 'SIGKILL');
    expect(await run.code, run.err.join('\n')).toBe(0);
    const text = run.out.join('\n');
    // Whichever is seen first starts the restart: the lost worker, or its peer's broken collective.
    expect(text).toMatch(/job restarting: (worker local-1 \(127\.0\.0\.1, rank 1\) stopped answering heartbeats|rank 0 on worker local-0 .*connection to rank 1 closed).*; restart 1 of 3 from the checkpoint of step \d+/);
    expect(text).toMatch(/worker local-1 exited; starting a replacement/);
    expect(text).toMatch(/job starting: 2 ranks on local-0 \(1\), local-1r \(1\); .*resuming from step \d+/);
    expect(text).toMatch(/job job-\S+ succeeded: 30 iterations/);
    expect(isAlive(victim!)).toBe(false);
  });
});
