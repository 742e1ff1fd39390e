// One executor process per rank, spawned exactly as the executor contract says:
//   <python> -m uniap_exec.main --plan PLAN.json --model MODEL.json --steps N [--seed S] [--lr LR]
//            [--data synthetic|PATH] [--checkpoint-dir DIR] [--checkpoint-every K] [--resume] [--no-overlap]
// with PYTHONPATH including the executor root and RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT, UNIAP_BACKEND in the environment. Its stdout is one JSON event per line (ready, step,
// checkpoint, done, error); stderr is its log. Both become ExecutorEventBody values here.
//
// The executor runs in its own process group (so a stop reaches anything it starts) and gets SIGKILL
// when the worker agent dies (common/die-with-parent.ts): a killed agent leaves no executor behind.
import { INSTALL_HINT, pythonPathWith } from '../../common/python.ts';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { delimiter } from 'node:path';
import { createInterface } from 'node:readline';
import { UniapError } from '../../common/errors.ts';
import { dieWithParent } from '../../common/die-with-parent.ts';
import { parseExecutorEvent } from '../../common/executor-events.ts';
import { EXECUTOR_PYTHONPATH, executorArgs as contractArgs, executorEnv as contractEnv } from '../executor/run-local.ts';
import type { DeviceInfo, ExecutorEventBody, StepMetrics, TrainingOptions } from './types.ts';

/** The product executor's package root (runtime/executor); UNIAP_EXECUTOR_ROOT points elsewhere. */
export const PRODUCT_EXECUTOR_ROOT = EXECUTOR_PYTHONPATH;
export const EXECUTOR_ROOT_ENV = 'UNIAP_EXECUTOR_ROOT';
export function resolveExecutorRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env[EXECUTOR_ROOT_ENV] || PRODUCT_EXECUTOR_ROOT;
}


export interface ExecutorSpec {
  python: string;
  /** Directory that holds the `uniap_exec` package (goes first on PYTHONPATH). */
  executorRoot: string;
  planPath: string;
  modelPath: string;
  options: TrainingOptions;
  resume: boolean;
  rank: number;
  localRank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  /** GPU ranks: the worker's assigned device indices (LOCAL_RANK indexes into them); null on CPU. */
  cudaVisibleDevices: string | null;
  /** Ranks on this worker (LOCAL_WORLD_SIZE; CPU threads are split over them). */
  localWorldSize: number;
  cwd: string;
}

/** The executor's command-line arguments after `<python>`: `-m uniap_exec.main` and the contract's flags. */
export function executorArgs(s: ExecutorSpec): string[] {
  const o = s.options;
  return [
    '-m',
    'uniap_exec.main',
    ...contractArgs({
      planPath: s.planPath,
      modelPath: s.modelPath,
      steps: o.steps,
      seed: o.seed,
      lr: o.lr,
      data: o.data,
      ...(o.checkpointDir !== null ? { checkpointDir: o.checkpointDir, checkpointEvery: o.checkpointEvery } : {}),
      resume: s.resume,
      noOverlap: !o.overlap,
    }),
  ];
}

/** The rank's environment (runtime/executor/run-local.ts spells the contract), with `executorRoot` first on PYTHONPATH. */
export function executorEnv(s: ExecutorSpec, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = contractEnv(
    { rank: s.rank, worldSize: s.worldSize, localRank: s.localRank, localWorldSize: s.localWorldSize, masterAddr: s.masterAddr, masterPort: s.masterPort, backend: s.backend },
    base,
  );
  if (s.executorRoot !== EXECUTOR_PYTHONPATH) env.PYTHONPATH = pythonPathWith([s.executorRoot, EXECUTOR_PYTHONPATH], base);
  if (s.cudaVisibleDevices !== null) env.CUDA_VISIBLE_DEVICES = s.cudaVisibleDevices;
  // Several CPU ranks on one host would each start one thread per core (as torchrun, split the cores).
  if (s.backend === 'gloo' && !base.OMP_NUM_THREADS) env.OMP_NUM_THREADS = String(Math.max(1, Math.floor(cpus().length / Math.max(1, s.localWorldSize))));
  return env;
}

/** Parses one stdout line of the executor (leniently); anything that is not a known event is a log line. */
export function parseExecutorLine(line: string, pid: number): ExecutorEventBody {
  const e = parseExecutorEvent(line, { strict: false });
  switch (e?.event) {
    case 'ready':
      return { kind: 'ready', pid, detailJson: line };
    case 'step': {
      const metrics: StepMetrics = {
        step: e.step,
        loss: e.loss,
        timeMs: e.timeMs,
        computeMs: e.computeMs,
        exposedCommMs: e.exposedCommMs,
        memoryBytes: e.memoryBytes,
        samples: e.samples,
        tokens: e.tokens,
      };
      return { kind: 'step', metrics };
    }
    case 'checkpoint':
      return { kind: 'checkpoint', step: e.step, path: e.path };
    case 'done':
      return { kind: 'done' };
    case 'error':
      return { kind: 'error', message: e.message };
    default:
      return { kind: 'log', line };
  }
}

const MAX_LOG_LINE = 4000;

export class ExecutorProcess {
  readonly rank: number;
  private readonly child: ChildProcess;
  private readonly exitPromise: Promise<void>;
  private ended = false;

  /** Spawns the executor; `onEvent` gets its events in order, the `exit` event last. */
  constructor(
    readonly spec: ExecutorSpec,
    onEvent: (body: ExecutorEventBody) => void,
  ) {
    this.rank = spec.rank;
    const cmd = dieWithParent(spec.python, spec.python, executorArgs(spec));
    this.child = spawn(cmd.command, cmd.args, { cwd: spec.cwd, env: executorEnv(spec), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = this.child.pid ?? 0;
    let pending = 2; // stdout and stderr must be drained before the exit event
    let exitInfo: { code: number | null; signal: string | null } | null = null;
    let resolveExit: () => void = () => {};
    this.exitPromise = new Promise((r) => (resolveExit = r));
    const maybeExit = (): void => {
      if (pending > 0 || exitInfo === null || this.ended) return;
      this.ended = true;
      onEvent({ kind: 'exit', code: exitInfo.code, signal: exitInfo.signal, pid });
      resolveExit();
    };
    const lines = (stream: NodeJS.ReadableStream | null, fromStdout: boolean): void => {
      if (!stream) {
        pending--;
        return;
      }
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (raw) => {
        const line = raw.length > MAX_LOG_LINE ? `${raw.slice(0, MAX_LOG_LINE)}...` : raw;
        onEvent(fromStdout ? parseExecutorLine(line, pid) : { kind: 'log', line });
      });
      rl.on('close', () => {
        pending--;
        maybeExit();
      });
    };
    lines(this.child.stdout, true);
    lines(this.child.stderr, false);
    this.child.on('error', (e: NodeJS.ErrnoException) => {
      const message =
        e.code === 'ENOENT'
          ? `python interpreter ${spec.python} not found; ${INSTALL_HINT}`
          : `cannot start ${spec.python}: ${e.message}`;
      onEvent({ kind: 'error', message });
      exitInfo = { code: 127, signal: null };
      pending = 0;
      maybeExit();
    });
    this.child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      maybeExit();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return !this.ended;
  }

  /** Resolves after the exit event was delivered. */
  exited(): Promise<void> {
    return this.exitPromise;
  }

  /** SIGTERM to the process group; SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs: number): Promise<void> {
    if (this.ended) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (!pid) return;
    try {
      process.kill(-pid, sig); // the whole group (detached: the executor leads it)
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Checks the interpreter before any job: it runs, and (when asked) can import torch and the executor
 * package. Uses importlib.util.find_spec, so nothing heavy is imported.
 */
export async function checkPython(python: string, executorRoot: string, options: { requireTorch: boolean }): Promise<{ version: string }> {
  const code = [
    'import importlib.util, json, sys',
    "print(json.dumps({'version': sys.version.split()[0], 'torch': importlib.util.find_spec('torch') is not None, 'exec': importlib.util.find_spec('uniap_exec') is not None}))",
  ].join('\n');
  const env = { ...process.env, PYTHONPATH: pythonPathWith([executorRoot]) };
  const out = await new Promise<string>((resolve, reject) => {
    execFile(python, ['-c', code], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(
          new UniapError(
            'TOOL_MISSING',
            e.code === 'ENOENT' ? `python interpreter ${python} not found; ${INSTALL_HINT}` : `python interpreter ${python} failed (${stderr.trim() || e.message}); ${INSTALL_HINT}`,
            { python },
          ),
        );
      } else resolve(stdout);
    });
  });
  const info = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { version: string; torch: boolean; exec: boolean };
  if (options.requireTorch && !info.torch) {
    throw new UniapError('TOOL_MISSING', `${python} (Python ${info.version}) cannot import torch; ${INSTALL_HINT}`, { python });
  }
  if (!info.exec) {
    throw new UniapError('TOOL_MISSING', `${python} cannot find the executor package uniap_exec under ${executorRoot}; run uniap from a complete checkout`, { python, executorRoot });
  }
  return { version: info.version };
}

/** The devices torch sees: every CUDA device, or one CPU slot when there is none. */
export async function detectDevices(python: string): Promise<DeviceInfo[]> {
  const code = [
    'import json, torch',
    'n = torch.cuda.device_count()',
    "print(json.dumps([{'name': torch.cuda.get_device_name(i), 'mem': torch.cuda.get_device_properties(i).total_memory} for i in range(n)]))",
  ].join('\n');
  const out = await new Promise<string>((resolve, reject) => {
    execFile(python, ['-c', code], { timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new UniapError('TOOL_MISSING', `cannot list devices with ${python} (${stderr.trim() || err.message}); ${INSTALL_HINT}, or pass --devices N`)) : resolve(stdout),
    );
  });
  const gpus = JSON.parse(out.trim().split('\n').pop() ?? '[]') as { name: string; mem: number }[];
  if (gpus.length === 0) return [{ index: 0, kind: 'cpu', name: 'cpu', memoryBytes: null }];
  return gpus.map((g, index) => ({ index, kind: 'gpu', name: g.name, memoryBytes: g.mem }));
}

/** `count` devices of one kind without asking torch (--devices N [--device-kind cpu|gpu]). */
export function declaredDevices(count: number, kind: 'cpu' | 'gpu'): DeviceInfo[] {
  return Array.from({ length: count }, (_, index) => ({ index, kind, name: kind, memoryBytes: null }));
}
