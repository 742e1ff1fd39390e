// The executor contract on the TypeScript side: the command line and environment that start one
// rank of `python -m uniap_exec.main` (its stdout events: common/executor-events.ts), and `runLocal`, which starts
// WORLD_SIZE ranks on this machine (tests, benchmarks; the worker agent spawns the same command).
// Documented in docs/runtime-executor.md.
import { choosePython, pythonPathWith } from '../../common/python.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { dieWithParent } from '../../common/die-with-parent.ts';
import { parseExecutorEvent, type ExecutorEvent } from '../../common/executor-events.ts';
import { freePort } from '../../common/ports.ts';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** runtime/executor: must be on PYTHONPATH so `-m uniap_exec.main` resolves. */
export const EXECUTOR_PYTHONPATH = dirname(fileURLToPath(import.meta.url));

export type ExecutorModule = 'uniap_exec.main' | 'uniap_exec.ddp_baseline';

export interface ExecutorOptions {
  planPath: string;
  modelPath: string;
  steps: number;
  seed?: number;
  lr?: number;
  /** 'synthetic' (default) or a token file (uint16, or int32 when the vocabulary exceeds 65536). */
  data?: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: boolean;
  noOverlap?: boolean;
}

/** The argv after `<python> -m <module>`, exactly as the contract spells it. */
export function executorArgs(o: ExecutorOptions): string[] {
  const a = ['--plan', o.planPath, '--model', o.modelPath, '--steps', String(o.steps)];
  if (o.seed !== undefined) a.push('--seed', String(o.seed));
  if (o.lr !== undefined) a.push('--lr', String(o.lr));
  if (o.data !== undefined) a.push('--data', o.data);
  if (o.checkpointDir !== undefined) a.push('--checkpoint-dir', o.checkpointDir);
  if (o.checkpointEvery !== undefined) a.push('--checkpoint-every', String(o.checkpointEvery));
  if (o.resume) a.push('--resume');
  if (o.noOverlap) a.push('--no-overlap');
  return a;
}

export interface RankEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize?: number;
  masterAddr: string;
  masterPort: number;
  backend?: 'gloo' | 'nccl';
}

/** Environment of one rank (added to the parent's environment). */
export function executorEnv(e: RankEnv, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    PYTHONPATH: pythonPathWith([EXECUTOR_PYTHONPATH], base),
    PYTHONUNBUFFERED: '1',
    RANK: String(e.rank),
    WORLD_SIZE: String(e.worldSize),
    LOCAL_RANK: String(e.localRank),
    LOCAL_WORLD_SIZE: String(e.localWorldSize ?? e.worldSize),
    MASTER_ADDR: e.masterAddr,
    MASTER_PORT: String(e.masterPort),
  };
  if (e.backend) env.UNIAP_BACKEND = e.backend;
  return env;
}

// The stdout events (one JSON object per line) and their parser live in common/executor-events.ts.

export interface RankResult {
  rank: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  events: ExecutorEvent[];
  stderr: string;
}

export interface LocalRunOptions extends ExecutorOptions {
  worldSize: number;
  module?: ExecutorModule;
  python?: string;
  backend?: 'gloo' | 'nccl';
  /** Kill every rank after this long (default 120 s). */
  timeoutMs?: number;
  /** Extra environment for every rank (e.g. UNIAP_NUM_THREADS). */
  env?: NodeJS.ProcessEnv;
  onEvent?: (e: ExecutorEvent) => void;
}

/** Start worldSize ranks on this machine and wait for all of them. When one rank fails, the others
 * get SIGTERM (they would otherwise wait in a collective until the timeout). */
export async function runLocal(o: LocalRunOptions): Promise<RankResult[]> {
  const port = await freePort();
  const python = choosePython(o.python);
  const module = o.module ?? 'uniap_exec.main';
  const args = ['-m', module, ...(executorArgs(o))];
  const children: ChildProcess[] = [];
  const results: Promise<RankResult>[] = [];
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  const timer = setTimeout(killAll, o.timeoutMs ?? 120_000);
  for (let rank = 0; rank < o.worldSize; rank++) {
    const env = executorEnv(
      { rank, worldSize: o.worldSize, localRank: rank, masterAddr: '127.0.0.1', masterPort: port, backend: o.backend ?? 'gloo' },
      { ...process.env, ...o.env },
    );
    const cmd = dieWithParent(python, python, args);
    const child = spawn(cmd.command, cmd.args, { env, cwd: resolve(EXECUTOR_PYTHONPATH), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    results.push(
      new Promise<RankResult>((res) => {
        const events: ExecutorEvent[] = [];
        let stderr = '';
        let buf = '';
        let parseError: string | null = null;
        child.stdout!.setEncoding('utf8');
        child.stderr!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() === '') continue;
            try {
              const ev = parseExecutorEvent(line, { strict: true });
              events.push(ev);
              o.onEvent?.(ev);
            } catch (err) {
              parseError ??= (err as Error).message;
            }
          }
        });
        child.stderr!.on('data', (chunk: string) => {
          stderr += chunk;
          if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
        });
        child.on('close', (code, signal) => {
          if (parseError !== null) {
            stderr += `\n[run-local.ts] ${parseError}`;
            code = code === 0 ? 70 : code;
          }
          if (code !== 0) killAll();
          res({ rank, exitCode: code, signal, events, stderr });
        });
      }),
    );
  }
  const out = await Promise.all(results);
  clearTimeout(timer);
  return out;
}

/** The step events of a run, one losses array per step (the last stage's report). */
export function lossesOf(results: RankResult[]): number[] {
  const byStep = new Map<number, number>();
  for (const r of results) {
    for (const e of r.events) {
      if (e.event === 'step' && e.loss !== null) byStep.set(e.step, e.loss);
    }
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
}

/** One line per failed rank (exit code and the last lines of its stderr) for test messages. */
export function describeFailures(results: RankResult[]): string {
  return results
    .filter((r) => r.exitCode !== 0)
    .map((r) => `rank ${r.rank} exit ${r.exitCode ?? r.signal}: ${r.stderr.trim().split('\n').slice(-6).join(' | ')}`)
    .join('\n');
}
