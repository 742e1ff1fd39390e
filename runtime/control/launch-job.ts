// `uniap launch` as a function. Targets:
//   local (default)  the coordinator in this process, N worker processes on this machine
//   ssh (--hosts)    the coordinator here, one worker per host started over ssh (token on stdin)
//   slurm (--slurm)  writes a batch script that runs the same commands on the allocation; starts nothing
//   attach (--coordinator HOST:PORT)  submits the job to a running coordinator and watches it
// It loads and checks the plan and model, provides Redis (a private redis-server when no --redis URL
// is given), generates the job token (workers get it out of band: environment or ssh stdin, never
// argv), prints progress, and on the way out ends every process it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UniapError } from '../../common/errors.ts';
import { loadModel } from '../../configs/model-presets.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { Plan } from '../../planner/plan.ts';
import { checkPlanForModel, loadPlan } from '../../planner/plan-io.ts';
import { withFacts } from '../../configs/model-facts.ts';
import { startCoordinatorService, type CoordinatorService } from './coordinator-main.ts';
import { dieWithParent } from '../../common/die-with-parent.ts';
import { sha256Hex } from './coordinator.ts';
import { checkPython, detectDevices, resolveExecutorRoot } from './executor-process.ts';
import { choosePython } from '../../common/python.ts';
import { GrpcTransport, type TlsFiles } from './grpc-transport.ts';
import { ProgressPrinter, formatFailure } from './progress.ts';
import { shellQuote, uniapProcess, uniapShellLine } from '../../common/processes.ts';
import { findRedisServer, REDIS_MISSING_HINT, startRedisServer, type RedisServerHandle } from './redis-server.ts';
import { renderSbatch } from './slurm.ts';
import { isUnreachable, TOKEN_ENV, type CoordinatorApi } from './transport.ts';
import { isTerminal, type JobEvent, type JobStatus, type TrainingOptions } from './types.ts';

export interface LaunchOptions {
  planPath: string;
  model: string;
  /** Tokens per sample (--seq-length); null: the model's own. */
  seqLength?: number | null;
  training: TrainingOptions;
  /** ssh targets, one worker per host. */
  hosts: string[] | null;
  /** Write a Slurm batch script here instead of running. */
  slurmOut: string | null;
  gpusPerNode: number;
  /** Submit to this running coordinator instead of starting one. */
  coordinator: string | null;
  redisUrl: string | null;
  python: string | null;
  localWorkers: number;
  deviceKind: 'cpu' | 'gpu' | null;
  port: number;
  advertiseHost: string | null;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  tls: TlsFiles | null;
  token: string | null;
  verbose: boolean;
  json: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream;
  /** Every job event as it comes (after it is printed); `uniap calibrate` collects the steps here. */
  onEvent?: (e: JobEvent) => void;
}

export interface LaunchResult {
  status: JobStatus | null;
  /** Slurm: the script written. */
  slurmScript: string | null;
  /** The last-iterations summary line (null when none ran). */
  summary: string | null;
}

interface Inputs {
  plan: Plan;
  planText: string;
  model: ModelSpec;
}

/** Loads the plan (its file text is the job's identity) and the model, and checks they belong together. */
export function loadInputs(planPath: string, modelArg: string, seqLength?: number | null): Inputs {
  const plan = loadPlan(planPath);
  const planText = readFileSync(planPath, 'utf8');
  const model = loadModel(modelArg, seqLength ?? undefined);
  checkPlanForModel(plan, model, planPath, modelArg);
  return { plan, planText, model };
}

/** Splits n devices over k workers as evenly as possible (first workers get the extra ones). */
export function splitDevices(n: number, k: number): number[] {
  const workers = Math.max(1, Math.min(k, n));
  return Array.from({ length: workers }, (_, i) => Math.floor(n / workers) + (i < n % workers ? 1 : 0));
}

function tlsArgs(tls: TlsFiles | null): string[] {
  return tls ? ['--tls-cert', resolve(tls.certPath), '--tls-key', resolve(tls.keyPath), '--tls-ca', resolve(tls.caPath)] : [];
}

export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const inputs = loadInputs(o.planPath, o.model, o.seqLength);
  const training = { ...o.training };
  const world = inputs.plan.cluster.devices;
  const remote = o.hosts !== null || o.slurmOut !== null || o.coordinator !== null;
  let autoCheckpointDir: string | null = null;
  if (training.maxRestarts > 0 && training.checkpointDir === null) {
    if (remote) throw new UniapError('CONFIG_INVALID', '--restart-on-failure on several hosts needs --checkpoint-dir on a file system every host shares');
    training.checkpointDir = mkdtempSync(join(tmpdir(), 'uniap-ckpt-'));
    autoCheckpointDir = training.checkpointDir;
    if (training.checkpointEvery === 0) training.checkpointEvery = Math.max(1, Math.floor(training.steps / 10));
  }
  if (training.checkpointDir !== null) training.checkpointDir = resolve(training.checkpointDir);

  if (o.slurmOut !== null) {
    const script = renderSbatch({
      planPath: resolve(o.planPath),
      model: o.model,
      seqLength: o.seqLength ?? null,
      modelName: inputs.model.name,
      devices: world,
      gpusPerNode: o.gpusPerNode,
      training,
      redisUrl: o.redisUrl,
      python: o.python,
      port: o.port || 29400,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
      tls: o.tls,
    });
    writeFileSync(o.slurmOut, script, { mode: 0o755 });
    return { status: null, slurmScript: script, summary: null };
  }

  const printer = new ProgressPrinter({ out: o.out, verbose: o.verbose, json: o.json }, { steps: training.steps, predictedTimePerIterationMs: inputs.plan.predictions?.timePerIterationMs ?? null });
  const sha = sha256Hex(inputs.planText);
  printer.note(`uniap launch: ${inputs.model.name}, plan ${o.planPath} (sha256 ${sha.slice(0, 12)}), ${world} rank(s), ${training.steps} steps`);
  try {
    if (o.coordinator !== null) return await attach(o, inputs, training, printer);
    return await runHere(o, inputs, training, printer);
  } finally {
    // A checkpoint directory made for --restart-on-failure lives only as long as the launch.
    if (autoCheckpointDir !== null) rmSync(autoCheckpointDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- attach

async function attach(o: LaunchOptions, inputs: Inputs, training: TrainingOptions, printer: ProgressPrinter): Promise<LaunchResult> {
  const token = o.token ?? process.env[TOKEN_ENV] ?? null;
  if (!token) throw new UniapError('UNAUTHENTICATED', `attaching to ${o.coordinator} needs the job token: pass --token or set ${TOKEN_ENV}`);
  const client = new GrpcTransport({ token, tls: o.tls }).coordinatorClient(o.coordinator!);
  try {
    const { jobId } = await client.submitJob({ jobId: null, planJson: inputs.planText, modelJson: JSON.stringify(withFacts(inputs.model)), options: training });
    printer.note(`job ${jobId} submitted to ${o.coordinator}`);
    await watchUntilDone(client, jobId, printer, o.heartbeatTimeoutMs * 3, o.onEvent);
    const status = (await client.getStatus(jobId)).jobs[0] ?? null;
    return { status, slurmScript: null, summary: printer.summary() };
  } finally {
    client.close();
  }
}

/** Watches a job to its result, resuming after the last event seen if the stream breaks (coordinator restart). */
async function watchUntilDone(api: CoordinatorApi, jobId: string, printer: ProgressPrinter, reconnectForMs: number, onEvent?: (e: JobEvent) => void): Promise<void> {
  let last = 0;
  let done = false;
  let brokenSince: number | null = null;
  const stopper = installInterrupt((sig) => void api.stopJob(jobId, `interrupted (${sig})`).catch(() => {}));
  try {
    while (!done) {
      try {
        await api.watchJob(
          jobId,
          last,
          (e) => {
            last = e.seq;
            brokenSince = null;
            printer.event(e);
            onEvent?.(e);
            if (e.body.kind === 'result') done = true;
          },
          new AbortController().signal,
        );
        if (!done) throw new UniapError('RUNTIME_FAILED', `the event stream of job ${jobId} ended without a result`);
      } catch (e) {
        if (!isUnreachable(e)) throw e;
        brokenSince ??= Date.now();
        if (Date.now() - brokenSince > reconnectForMs) throw new UniapError('WORKER_LOST', `lost the coordinator while watching job ${jobId}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    stopper();
  }
}

/** First Ctrl-C/SIGTERM: `onFirst` (stop the job cleanly); a second one exits at once. */
function installInterrupt(onFirst: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      process.stderr.write(`\n${signal}: stopping the job (again to quit at once)\n`);
      onFirst(signal);
    } else process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

// ---------------------------------------------------------------- local and ssh

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  exited: Promise<void>;
  tail: string[];
}

async function runHere(o: LaunchOptions, inputs: Inputs, training: TrainingOptions, printer: ProgressPrinter): Promise<LaunchResult> {
  const world = inputs.plan.cluster.devices;
  const python = choosePython(o.python);
  const local = o.hosts === null;
  let deviceKind = o.deviceKind;
  let gpuCount = 0;
  if (local) {
    await checkPython(python, resolveExecutorRoot(), { requireTorch: true });
    if (deviceKind !== 'cpu') {
      const found = await detectDevices(python);
      gpuCount = found.filter((d) => d.kind === 'gpu').length;
      deviceKind ??= gpuCount >= world ? 'gpu' : 'cpu';
      if (deviceKind === 'gpu' && gpuCount < world) {
        throw new UniapError('DEGREE_MISMATCH', `the plan needs ${world} devices but this machine has ${gpuCount} GPU(s); plan for ${gpuCount}, run on more hosts (--hosts), or use --device-kind cpu`);
      }
    }
  }

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  // Local workers keep their files here (a worker killed outright cannot remove its own).
  const runDir = mkdtempSync(join(tmpdir(), 'uniap-launch-'));
  cleanups.push(async () => rmSync(runDir, { recursive: true, force: true }));
  try {
    let redisUrl = o.redisUrl;
    if (redisUrl === null) {
      if (!findRedisServer()) throw new UniapError('TOOL_MISSING', `launch needs Redis for the job state and found no redis-server; ${REDIS_MISSING_HINT}`);
      const redis: RedisServerHandle = await startRedisServer();
      cleanups.push(() => redis.stop());
      redisUrl = redis.url;
    }
    const token = o.token ?? randomBytes(24).toString('hex');
    const prefix = `uniap-${randomBytes(4).toString('hex')}`;
    const logLine = (l: string): void => {
      if (o.verbose) o.err.write(`${l}\n`);
    };
    const service: CoordinatorService = await startCoordinatorService({
      redisUrl,
      redisPrefix: prefix,
      token,
      tls: o.tls,
      host: local ? '127.0.0.1' : '0.0.0.0',
      port: o.port,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
      log: logLine,
    });
    cleanups.push(() => service.close());
    const advertise = local ? '127.0.0.1' : (o.advertiseHost ?? hostname());
    const coordinatorAddress = `${advertise}:${service.port}`;
    printer.note(`coordinator ${coordinatorAddress}, Redis ${redisUrl}${o.redisUrl === null ? ' (started here)' : ''} under prefix ${prefix}; workers get the job token out of band`);

    // Workers.
    const workers: WorkerProcess[] = [];
    let shuttingDown = false;
    let jobOver = false;
    const common = ['--python', python, ...tlsArgs(o.tls)];
    // Every local CPU rank shares this machine's cores, whichever worker runs it: split them over all
    // ranks (per worker would oversubscribe, and spinning intra-op threads slow a step 30x).
    const threadEnv: NodeJS.ProcessEnv =
      deviceKind === 'cpu' && !process.env.OMP_NUM_THREADS ? { OMP_NUM_THREADS: String(Math.max(1, Math.floor(cpus().length / world))) } : {};
    const spawnLocal = (i: number, devices: number, offset: number, suffix = ''): void => {
      const id = `local-${i}${suffix}`;
      const deviceArgs = deviceKind === 'gpu' ? ['--device-ids', Array.from({ length: devices }, (_, d) => offset + d).join(','), '--device-kind', 'gpu'] : ['--devices', String(devices), '--device-kind', 'cpu'];
      const p = uniapProcess('worker', ['--coordinator', coordinatorAddress, '--id', id, '--node-rank', String(i), '--host', '127.0.0.1', '--listen-host', '127.0.0.1', '--work-dir', join(runDir, id), ...deviceArgs, ...common]);
      // Own process group: a Ctrl-C reaches only this process, which then stops the job in order.
      // Bound to this process: if it is killed outright, its workers (and their executors) go too.
      const cmd = dieWithParent(python, p.command, p.args);
      const child = spawn(cmd.command, cmd.args, { env: { ...process.env, ...threadEnv, [TOKEN_ENV]: token }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      track(id, child, () => {
        // A local worker that died mid-job is replaced when the job may restart.
        if (!shuttingDown && !jobOver && training.maxRestarts > 0) {
          printer.note(`worker ${id} exited; starting a replacement for the restart`);
          spawnLocal(i, devices, offset, `${suffix}r`);
        }
      });
    };
    const track = (id: string, child: ChildProcess, onUnexpectedExit: () => void): void => {
      const w: WorkerProcess = { id, child, tail: [], exited: new Promise((r) => child.once('exit', () => r())) };
      const keep = (d: Buffer): void => {
        for (const line of d.toString().split('\n').filter(Boolean)) {
          w.tail.push(line);
          if (w.tail.length > 20) w.tail.shift();
          if (o.verbose) o.err.write(`[${id}] ${line}\n`);
        }
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      child.once('exit', (code, signal) => {
        if (shuttingDown) return;
        printer.note(`worker ${id} (pid ${child.pid}) exited (${signal ?? `code ${code}`})${w.tail.length ? `: ${w.tail[w.tail.length - 1]}` : ''}`);
        onUnexpectedExit();
      });
      workers.push(w);
    };
    cleanups.push(async () => {
      shuttingDown = true;
      await service.coordinator.shutdownWorkers('the job is over');
      await Promise.race([Promise.all(workers.map((w) => w.exited)), new Promise((r) => setTimeout(r, 10_000))]);
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    });

    if (local) {
      let offset = 0;
      splitDevices(world, o.localWorkers).forEach((n, i) => {
        spawnLocal(i, n, offset);
        offset += n;
      });
      printer.note(`workers: ${workers.length} local process(es), ${world} ${deviceKind} device(s)`);
    } else {
      o.hosts!.forEach((host, i) => {
        const line = `read -r ${TOKEN_ENV} && export ${TOKEN_ENV} && ${uniapShellLine('worker', ['--coordinator', coordinatorAddress, '--id', `${host}-${i}`, '--node-rank', String(i), '--host', host, ...common])}`;
        const child = spawn('ssh', sshArgs(host, line), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        child.stdin?.write(`${token}\n`);
        track(`${host}-${i}`, child, () => {});
      });
      printer.note(`workers: ${o.hosts!.length} host(s) over ssh: ${o.hosts!.join(', ')}`);
    }

    const { jobId } = await service.coordinator.submitJob({ jobId: null, planJson: inputs.planText, modelJson: JSON.stringify(withFacts(inputs.model)), options: training });
    printer.note(`job ${jobId} submitted`);
    await watchUntilDone(service.coordinator, jobId, printer, 0, (e) => {
      if (e.body.kind === 'result') jobOver = true;
      o.onEvent?.(e);
    });
    const status = (await service.coordinator.getStatus(jobId)).jobs[0] ?? null;
    return { status, slurmScript: null, summary: printer.summary() };
  } finally {
    await cleanup();
  }
}

/** ssh arguments that run `remoteLine` on `host` without a terminal, failing instead of prompting. */
export function sshArgs(host: string, remoteLine: string): string[] {
  return ['-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', host, `bash -c ${shellQuote(remoteLine)}`];
}

/** The exit of `uniap launch` for a finished job: nothing for success, else the failure as a UniapError. */
export function outcome(status: JobStatus | null): void {
  if (status === null || status.state === 'succeeded') return;
  if (status.state === 'stopped') throw new UniapError('RUNTIME_FAILED', `job ${status.jobId} was stopped at step ${status.lastStep ?? 0} of ${status.steps}`, {}, 130);
  if (!isTerminal(status.state)) throw new UniapError('RUNTIME_FAILED', `job ${status.jobId} is still ${status.state}`);
  const f = status.failure;
  throw new UniapError(f?.code ?? 'RUNTIME_FAILED', f ? formatFailure(f).replace(/^[A-Z_]+: /, '') : `job ${status.jobId} failed`, { jobId: status.jobId, workerId: f?.workerId ?? null, rank: f?.rank ?? null });
}
