// The worker agent (`uniap worker`), one per node: registers its devices with the coordinator, sends
// heartbeats, serves the Worker service (Prepare, Start, Stop, Shutdown), runs one executor process per
// assigned rank and forwards their events. It ends its executors on Stop, when the coordinator says
// the job is over, and when the coordinator has been unreachable for a heartbeat timeout.
//
//   connecting ──> idle ──> starting ──> running ──> idle            (executors finished)
//                   ^                      │
//                   └──── stopping <───────┘                         (Stop, or the job is over)
//   any live state ──> coordinator-lost ──> exited                   (coordinator unreachable)
//   any live state ──> (stopping ──>) exited                         (Shutdown, SIGTERM)
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UniapError } from '../../common/errors.ts';
import { ExecutorProcess, type ExecutorSpec } from './executor-process.ts';
import { freePort } from '../../common/ports.ts';
import { StateMachine, type LogFn, type TransitionTable } from './state-machine.ts';
import { isUnreachable, type CoordinatorClient, type ServerHandle, type Transport, type WorkerApi } from './transport.ts';
import type { DeviceInfo, ExecutorEvent, ExecutorEventBody, StartResult, WorkerAgentState, WorkerShare } from './types.ts';

export const WORKER_TRANSITIONS: TransitionTable<WorkerAgentState> = {
  connecting: ['idle', 'coordinator-lost', 'exited'],
  idle: ['starting', 'connecting', 'coordinator-lost', 'exited'],
  starting: ['running', 'stopping', 'coordinator-lost'],
  running: ['idle', 'stopping', 'coordinator-lost'],
  stopping: ['idle', 'connecting', 'coordinator-lost', 'exited'],
  'coordinator-lost': ['exited'],
  exited: [],
};

export interface WorkerAgentOptions {
  transport: Transport;
  coordinatorAddress: string;
  /** Proposed id; null: "<host>-<pid>". */
  workerId: string | null;
  /** The address other hosts reach this one at (MASTER_ADDR when it runs rank 0). */
  host: string;
  /** Where the Worker service listens; its address is registered as `host:<port>`. */
  listenHost: string;
  listenPort: number;
  devices: DeviceInfo[];
  nodeRank: number | null;
  python: string;
  executorRoot: string;
  /** Plan and model files of each attempt go under it; removed on exit. */
  workDir: string;
  /** SIGTERM to SIGKILL, ms. */
  stopGraceMs: number;
  /** Give up registering after this long (ms). */
  connectTimeoutMs: number;
  version: string;
  log: LogFn;
  now?: () => number;
}

interface CurrentRun {
  jobId: string;
  attempt: number;
  planSha256: string;
  executors: ExecutorProcess[];
}

export interface WorkerExit {
  /** 0: shut down on request; 1: the coordinator went away or could not be reached. */
  code: number;
  reason: string;
}

const MAX_BATCH = 500;

export class WorkerAgent implements WorkerApi {
  private readonly o: WorkerAgentOptions;
  private readonly sm: StateMachine<WorkerAgentState>;
  private readonly now: () => number;
  private coordinator: CoordinatorClient;
  private server: ServerHandle | null = null;
  private workerId: string;
  private heartbeatIntervalMs = 1000;
  private heartbeatTimeoutMs = 10_000;
  private lastContactMs: number;
  private run: CurrentRun | null = null;
  private outbox: { workerId: string; event: ExecutorEvent }[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private exitResolve: (e: WorkerExit) => void = () => {};
  private readonly exitPromise: Promise<WorkerExit>;
  private exiting = false;

  constructor(o: WorkerAgentOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    this.workerId = o.workerId ?? `${o.host}-${process.pid}`;
    this.sm = new StateMachine<WorkerAgentState>(`worker ${this.workerId}`, 'connecting', WORKER_TRANSITIONS, o.log);
    this.coordinator = o.transport.coordinatorClient(o.coordinatorAddress);
    this.lastContactMs = this.now();
    this.exitPromise = new Promise((r) => (this.exitResolve = r));
  }

  /** Work nobody awaits (timers, follow-ups): failures are logged, never thrown. */
  private background(p: Promise<unknown>, what: string): void {
    p.catch((e: unknown) => this.o.log(`worker ${this.workerId}: ${what} failed: ${(e as Error)?.message ?? String(e)}`));
  }

  get state(): WorkerAgentState {
    return this.sm.state;
  }

  get id(): string {
    return this.workerId;
  }

  /** Pids of the executors running now. */
  get executorPids(): number[] {
    return this.run?.executors.filter((e) => e.running).map((e) => e.pid) ?? [];
  }

  /** Serves the Worker service and registers; resolves when the agent has exited. */
  async serve(): Promise<WorkerExit> {
    mkdirSync(this.o.workDir, { recursive: true });
    this.server = await this.o.transport.serveWorker(this, { host: this.o.listenHost, port: this.o.listenPort });
    await this.registerLoop();
    if (this.sm.state === 'idle') this.timer = setInterval(() => this.background(this.tick(), 'heartbeat'), this.heartbeatIntervalMs);
    return this.exitPromise;
  }

  private get address(): string {
    return `${this.o.host}:${this.server?.port ?? 0}`;
  }

  private async registerLoop(): Promise<void> {
    const deadline = this.now() + this.o.connectTimeoutMs;
    let delayMs = 100;
    for (;;) {
      if (this.exiting) return;
      try {
        const r = await this.coordinator.register({
          workerId: this.workerId,
          host: this.o.host,
          address: this.address,
          devices: this.o.devices,
          nodeRank: this.o.nodeRank,
          pid: process.pid,
          version: this.o.version,
        });
        this.workerId = r.workerId;
        this.heartbeatIntervalMs = r.heartbeatIntervalMs;
        this.heartbeatTimeoutMs = r.heartbeatTimeoutMs;
        this.lastContactMs = this.now();
        this.sm.to('idle', `registered with ${this.o.coordinatorAddress} (heartbeat every ${r.heartbeatIntervalMs} ms)`);
        return;
      } catch (e) {
        if (!isUnreachable(e)) {
          await this.exit(1, `the coordinator at ${this.o.coordinatorAddress} refused the registration: ${(e as Error).message}`, 'exited');
          return;
        }
        if (this.now() > deadline) {
          await this.exit(1, `no coordinator answered at ${this.o.coordinatorAddress} for ${this.o.connectTimeoutMs} ms; start one (uniap coordinator) or check --coordinator`, 'coordinator-lost');
          return;
        }
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(1000, delayMs * 2);
      }
    }
  }

  // ---------------------------------------------------------------- heartbeats and events

  private async tick(): Promise<void> {
    if (this.ticking || this.exiting) return;
    this.ticking = true;
    try {
      await this.flush();
      const run = this.run;
      try {
        const r = await this.coordinator.heartbeat({
          workerId: this.workerId,
          state: this.sm.state,
          jobId: run?.jobId ?? null,
          attempt: run?.attempt ?? 0,
          planSha256: run?.planSha256 ?? null,
          processes: run?.executors.filter((e) => e.running).map((e) => ({ rank: e.rank, pid: e.pid })) ?? [],
        });
        this.lastContactMs = this.now();
        if (!r.known) {
          await this.stopRun(null, 'the coordinator does not know this worker (it declared it lost)');
          if (this.sm.can('connecting')) {
            this.sm.to('connecting', 'registering again');
            await this.registerLoop();
          }
        } else if (r.stop && run) {
          await this.stopRun(run, 'the coordinator says the job is over');
        }
      } catch (e) {
        if (!isUnreachable(e)) this.o.log(`worker ${this.workerId}: heartbeat failed: ${(e as Error).message}`);
        const silentMs = this.now() - this.lastContactMs;
        if (silentMs > this.heartbeatTimeoutMs) {
          await this.exit(1, `the coordinator at ${this.o.coordinatorAddress} has not answered for ${silentMs} ms (timeout ${this.heartbeatTimeoutMs} ms); executors ended`, 'coordinator-lost');
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  private emit(run: CurrentRun, rank: number, body: ExecutorEventBody): void {
    this.outbox.push({ workerId: this.workerId, event: { jobId: run.jobId, attempt: run.attempt, rank, timeMs: this.now(), body } });
    // Progress and endings go out at once; logs ride along.
    if (body.kind !== 'log' || this.outbox.length >= MAX_BATCH) this.background(this.flush(), 'forwarding events');
  }

  /** Sends the queued events in order; on failure they stay queued for the next heartbeat. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.outbox.length > 0) {
        const batch = this.outbox.slice(0, MAX_BATCH);
        const events = batch.map((b) => b.event);
        const r = await this.coordinator.reportEvents(this.workerId, events);
        this.outbox.splice(0, batch.length);
        this.lastContactMs = this.now();
        const last = events[events.length - 1]!;
        const run = this.run;
        if (r.stop && run && run.jobId === last.jobId && run.attempt === last.attempt) this.background(this.stopRun(run, 'the coordinator says the job is over'), 'stopping executors');
      }
    } catch (e) {
      if (!isUnreachable(e)) {
        this.o.log(`worker ${this.workerId}: dropping ${this.outbox.length} events the coordinator refused: ${(e as Error).message}`);
        this.outbox = [];
      }
    } finally {
      this.flushing = false;
    }
  }

  // ---------------------------------------------------------------- Worker service

  async prepare(jobId: string, attempt: number): Promise<{ masterPort: number }> {
    const masterPort = await freePort('0.0.0.0');
    this.o.log(`worker ${this.workerId}: reserved master port ${masterPort} for job ${jobId} attempt ${attempt}`);
    return { masterPort };
  }

  async start(share: WorkerShare): Promise<StartResult> {
    if (this.run) throw new UniapError('RUNTIME_FAILED', `worker ${this.workerId} still runs job ${this.run.jobId} attempt ${this.run.attempt}; stop it first`);
    if (!this.sm.can('starting') || this.sm.state !== 'idle') throw new UniapError('RUNTIME_FAILED', `worker ${this.workerId} is ${this.sm.state}, not idle`);
    const expected = sha256(share.planJson);
    if (expected !== share.planSha256) {
      throw new UniapError('CONFIG_INVALID', `worker ${this.workerId}: the plan received hashes to ${expected.slice(0, 12)}..., the coordinator sent ${share.planSha256.slice(0, 12)}...; refusing to run it`);
    }
    this.sm.to('starting', `job ${share.jobId} attempt ${share.attempt}: ranks ${share.ranks.map((r) => r.rank).join(',')}`);
    const dir = join(this.o.workDir, share.jobId, `attempt-${share.attempt}`);
    mkdirSync(dir, { recursive: true });
    const planPath = join(dir, 'plan.json');
    const modelPath = join(dir, 'model.json');
    writeFileSync(planPath, share.planJson);
    writeFileSync(modelPath, share.modelJson);
    // The hash of the bytes the executors will read, not of what we meant to write.
    const written = sha256(readFileSync(planPath, 'utf8'));
    const run: CurrentRun = { jobId: share.jobId, attempt: share.attempt, planSha256: written, executors: [] };
    this.run = run;
    const gpu = share.backend === 'nccl';
    const visible = gpu ? share.ranks.map((r) => r.deviceIndex).join(',') : null;
    for (const a of [...share.ranks].sort((x, y) => x.localRank - y.localRank)) {
      const spec: ExecutorSpec = {
        python: this.o.python,
        executorRoot: this.o.executorRoot,
        planPath,
        modelPath,
        options: share.options,
        resume: share.resume,
        rank: a.rank,
        localRank: a.localRank,
        worldSize: share.worldSize,
        masterAddr: share.masterAddr,
        masterPort: share.masterPort,
        backend: share.backend,
        cudaVisibleDevices: visible,
        localWorldSize: share.ranks.length,
        cwd: dir,
      };
      const ex = new ExecutorProcess(spec, (body) => {
        this.emit(run, a.rank, body);
        if (body.kind === 'exit') this.onExecutorExit(run);
      });
      run.executors.push(ex);
    }
    this.sm.to('running', `${run.executors.length} executor(s): pids ${run.executors.map((e) => e.pid).join(',')}`);
    return { planSha256: written, processes: run.executors.map((e) => ({ rank: e.rank, pid: e.pid })) };
  }

  private onExecutorExit(run: CurrentRun): void {
    if (this.run !== run || run.executors.some((e) => e.running)) return;
    // Every executor ended by itself (finished or failed); a stop in progress finishes on its own.
    if (this.sm.state === 'running') {
      this.run = null;
      this.sm.to('idle', `job ${run.jobId} attempt ${run.attempt}: every executor ended`);
      this.background(this.flush(), 'forwarding events');
    }
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<{ stopped: number }> {
    const run = this.run;
    if (!run || run.jobId !== jobId || run.attempt !== attempt) return { stopped: 0 };
    return { stopped: await this.stopRun(run, reason) };
  }

  /** Ends the executors of `run` (or of the current run when null); returns how many were running. */
  private async stopRun(run: CurrentRun | null, reason: string, next: WorkerAgentState = 'idle'): Promise<number> {
    const target = run ?? this.run;
    if (!target || this.run !== target) return 0;
    const running = target.executors.filter((e) => e.running);
    if (this.sm.state !== 'stopping' && this.sm.can('stopping')) this.sm.to('stopping', `job ${target.jobId} attempt ${target.attempt}: ${reason}`);
    await Promise.all(target.executors.map((e) => e.stop(this.o.stopGraceMs)));
    if (this.run === target) this.run = null;
    if (this.sm.state === 'stopping' && next !== 'stopping' && this.sm.can(next)) this.sm.to(next, `${running.length} executor(s) ended`);
    await this.flush();
    return running.length;
  }

  async shutdown(reason: string): Promise<void> {
    // Answer the call first; the agent ends right after.
    setImmediate(() => this.background(this.exit(0, `shut down: ${reason}`, 'exited'), 'shutting down'));
  }

  /** Ends every executor, tells the coordinator (best effort), stops serving; resolves `serve()`. */
  async exit(code: number, reason: string, via: 'exited' | 'coordinator-lost' = 'exited'): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (via === 'coordinator-lost' && this.sm.can('coordinator-lost')) this.sm.to('coordinator-lost', reason);
    if (this.run) await this.stopRun(this.run, reason, 'stopping');
    if (this.sm.can('exited')) this.sm.to('exited', reason);
    if (via === 'exited') {
      try {
        await this.flush();
        await this.coordinator.heartbeat({ workerId: this.workerId, state: 'exited', jobId: null, attempt: 0, planSha256: null, processes: [] });
      } catch {
        // the coordinator may be gone already
      }
    }
    await this.server?.close();
    this.coordinator.close();
    rmSync(this.o.workDir, { recursive: true, force: true });
    this.exitResolve({ code, reason });
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
