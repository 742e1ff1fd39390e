// Launches one measuring process per device (`python -m uniap_measure.worker JOB.json`), on this
// machine, and streams their results back as events. Rank 0 prints one `@@uniap {json}` line per
// event on stdout; any rank that fails prints an error event and exits, and the driver then stops
// the others. An AbortSignal (Ctrl-C) stops every process; what finished before is already with the
// caller (and in the cache).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { dieWithParent } from '../../common/die-with-parent.ts';
import { freePort } from '../../common/ports.ts';
import { pythonEnv } from './python.ts';
import type { MeasureTask } from './tasks.ts';

export interface WorkerJob {
  backend: 'gloo' | 'nccl';
  device: 'cpu' | 'cuda';
  /** torch threads per process (CPU). */
  threads: number;
  tasks: MeasureTask[];
}

export type WorkerEvent =
  | { event: 'ready'; world: number; backend: string; device: string }
  | { event: 'start'; id: string }
  | { event: 'result'; id: string; perRank: unknown[] }
  | { event: 'error'; id: string; rank: number; oom: boolean; message: string }
  | { event: 'done'; perRank?: unknown[] };

export interface RunWorkersOptions {
  python: string;
  processes: number;
  layersDir?: string;
  signal?: AbortSignal;
  onEvent: (e: WorkerEvent) => void;
}

export type RunWorkersOutcome =
  | { status: 'done' }
  | { status: 'aborted' }
  | { status: 'failed'; taskId?: string; rank?: number; oom: boolean; message: string; stderrTail: string };

const PREFIX = '@@uniap ';

export async function runWorkers(job: WorkerJob, opts: RunWorkersOptions): Promise<RunWorkersOutcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'uniap-measure-'));
  const jobFile = path.join(dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const port = await freePort();
  const children: ChildProcess[] = [];
  const stderrTails: string[] = [];
  let failure: RunWorkersOutcome | undefined;
  let finishedOk = false;
  let aborted = false;

  const stopAll = () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  };
  const onAbort = () => {
    aborted = true;
    stopAll();
  };
  if (opts.signal?.aborted) return { status: 'aborted' };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const exits = Array.from({ length: opts.processes }, (_, rank) => {
      const env = pythonEnv(
        {
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(opts.processes),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          OMP_NUM_THREADS: String(Math.max(1, job.threads)),
        },
        opts.layersDir,
      );
      // A killed `uniap profile` leaves no rank blocked in a collective whose peers are gone.
      const cmd = dieWithParent(opts.python, opts.python, ['-m', 'uniap_measure.worker', jobFile]);
      const child = spawn(cmd.command, cmd.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      stderrTails[rank] = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderrTails[rank] = (stderrTails[rank] + d).slice(-4000);
      });
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.startsWith(PREFIX)) return;
        let ev: WorkerEvent;
        try {
          ev = JSON.parse(line.slice(PREFIX.length)) as WorkerEvent;
        } catch {
          return;
        }
        if (ev.event === 'error') {
          // A rank whose peer died reports a broken connection; the peer's own error says why.
          const secondary = (m: string) => /connection (closed|reset)|peer|broken pipe/i.test(m);
          if (!failure || (failure.status === 'failed' && secondary(failure.message) && !secondary(ev.message))) {
            failure = { status: 'failed', taskId: ev.id, rank: ev.rank, oom: ev.oom, message: ev.message, stderrTail: '' };
          }
          return;
        }
        if (ev.event === 'done') finishedOk = true;
        if (rank === 0) opts.onEvent(ev);
      });
      return new Promise<{ rank: number; code: number | null; closed: Promise<void> }>((resolve) => {
        const closed = new Promise<void>((r) => lines.once('close', () => r()));
        child.on('error', (e) => {
          failure ??= { status: 'failed', oom: false, message: `could not start ${opts.python}: ${e.message}`, stderrTail: '' };
          resolve({ rank, code: -1, closed: Promise.resolve() });
        });
        child.on('exit', (code) => resolve({ rank, code, closed }));
      }).then(async (r) => {
        // Make sure every stdout line of this process was handled before judging the run.
        await r.closed;
        if (r.code !== 0 && !aborted) {
          failure ??= {
            status: 'failed',
            rank: r.rank,
            oom: false,
            message: `measuring process ${r.rank} exited with ${r.code}`,
            stderrTail: '',
          };
          stopAll();
        }
        return r;
      });
    });
    await Promise.all(exits);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    rmSync(dir, { recursive: true, force: true });
  }
  if (aborted) return { status: 'aborted' };
  if (failure && failure.status === 'failed') {
    const rank = failure.rank ?? 0;
    return { ...failure, stderrTail: lastLines(stderrTails[rank] ?? '', 12) };
  }
  if (!finishedOk) return { status: 'failed', oom: false, message: 'measuring processes ended without finishing', stderrTail: lastLines(stderrTails[0] ?? '', 12) };
  return { status: 'done' };
}

function lastLines(s: string, n: number): string {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^W\d{8} .*CPUAllocator/.test(l))
    .slice(-n)
    .join('\n');
}
