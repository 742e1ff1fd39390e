// The coordinator's effects: membership (register, heartbeats, lost workers), the Worker-service RPCs,
// the job store, timers and the event stream the CLI watches. What to do about each event is decided
// by pure functions (coordinator-decisions.ts, rendezvous.ts, blame.ts) that return the job's new
// record and commands; `apply` carries the commands out in order. Every job and worker record is
// written through to the store (job-store.ts), so a coordinator restarted on the same store resumes
// with the same state. All changes of one job run one at a time (`serial`).
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { UniapError, isUniapError } from '../../common/errors.ts';
import { withFacts, type ModelSpecWithFacts } from '../../configs/model-facts.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { checkPlanForModel, parsePlan } from '../../planner/plan-io.ts';
import { ALIVE, heartbeatVerdict, planMismatchFailure } from './blame.ts';
import { unchanged, type Command, type Decision, type StartOutcome } from './coordinator-commands.ts';
import { checkpointComplete, onExecutorEvent, onFailure, onStopRequest, onWorkerLost, stepComplete, stopExecutors, submitted, workerStopped } from './coordinator-decisions.ts';
import { jobStatus, workerStatus } from './coordinator-status.ts';
import type { JobRecord } from './job-state.ts';
import type { JobStore, WorkerRecord } from './job-store.ts';
import { freeWorkersInRankOrder, planRendezvous, rendezvousExpired, rendezvousTimeout, startAttempt, startResults } from './rendezvous.ts';
import type { LogFn } from './state-machine.ts';
import { isUnreachable, type CoordinatorApi, type Transport, type WorkerClient } from './transport.ts';
import {
  isTerminal,
  type CoordinatorStatus,
  type ExecutorEvent,
  type Heartbeat,
  type HeartbeatResult,
  type JobEvent,
  type JobState,
  type JobSubmission,
  type RegisterResult,
  type Registration,
  type SubmitResult,
} from './types.ts';

export { exitFailure } from './blame.ts';
export { jobStatus } from './coordinator-status.ts';

export interface CoordinatorOptions {
  store: JobStore;
  /** Used to call the workers' Worker service. */
  transport: Transport;
  log: LogFn;
  /** How often workers send heartbeats, and how long a silent worker stays a member (ms). */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  coordinatorId?: string;
  now?: () => number;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function newJobId(now: number): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `job-${d}-${randomBytes(2).toString('hex')}`;
}

export class Coordinator implements CoordinatorApi {
  readonly coordinatorId: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  private readonly store: JobStore;
  private readonly transport: Transport;
  private readonly log: LogFn;
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly clients = new Map<string, WorkerClient>();
  private readonly events = new EventEmitter();
  /** After a restart, members get one heartbeat timeout from here before they count as lost. */
  private graceFromMs: number;
  private monitor: NodeJS.Timeout | null = null;
  private rendezvousQueued = false;
  private ticking = false;
  private closed = false;

  private constructor(o: CoordinatorOptions) {
    this.store = o.store;
    this.transport = o.transport;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.heartbeatIntervalMs = o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    if (this.heartbeatTimeoutMs < 2 * this.heartbeatIntervalMs) {
      throw new UniapError(
        'CONFIG_INVALID',
        `heartbeat timeout ${this.heartbeatTimeoutMs} ms is shorter than two heartbeat intervals (${this.heartbeatIntervalMs} ms); raise --heartbeat-timeout-ms`,
      );
    }
    this.coordinatorId = o.coordinatorId ?? `coordinator-${randomBytes(3).toString('hex')}`;
    this.startedAtMs = this.now();
    this.graceFromMs = this.startedAtMs;
    this.events.setMaxListeners(0);
  }

  /** Loads membership and jobs from the store (a restart continues where the last coordinator was) and starts the heartbeat monitor. */
  static async start(o: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(o);
    await c.load();
    c.monitor = setInterval(() => c.background(c.tick(), 'heartbeat check'), Math.max(50, Math.floor(c.heartbeatIntervalMs / 2)));
    return c;
  }

  private async load(): Promise<void> {
    for (const w of await this.store.listWorkers()) this.workers.set(w.workerId, w);
    const jobs = await this.store.listJobs();
    for (const j of jobs) this.jobs.set(j.jobId, j);
    for (const j of jobs) {
      if (isTerminal(j.state)) continue;
      this.log(`coordinator ${this.coordinatorId}: found job ${j.jobId} in state ${j.state} (attempt ${j.attempt}, last step ${j.lastStep ?? 'none'}) in Redis`);
      if (j.state === 'stopping' || j.state === 'restarting') {
        const why = 'coordinator restarted while the job was stopping';
        this.background(this.serial(j.jobId, () => this.decide(j.jobId, (job) => stopExecutors(job, why, this.now()))), `stopping job ${j.jobId}`);
      }
    }
    this.scheduleRendezvous();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = null;
    await Promise.allSettled([...this.queues.values()]);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    this.events.removeAllListeners();
  }

  // ---------------------------------------------------------------- helpers

  /** Work nobody awaits (timers, follow-ups): a failure (e.g. Redis gone while closing) is logged, never thrown. */
  private background(p: Promise<unknown>, what: string): void {
    p.catch((e: unknown) => {
      if (!this.closed) this.log(`coordinator: ${what} failed: ${(e as Error)?.message ?? String(e)}`);
    });
  }

  /** Runs `fn` after every earlier change of the same key (a job id, or '*' for rendezvous). */
  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  private client(w: WorkerRecord): WorkerClient {
    let c = this.clients.get(w.workerId);
    if (!c) {
      c = this.transport.workerClient(w.address);
      this.clients.set(w.workerId, c);
    }
    return c;
  }

  private async saveWorker(w: WorkerRecord): Promise<void> {
    this.workers.set(w.workerId, w);
    await this.store.saveWorker(w);
  }

  private async releaseWorkers(jobId: string): Promise<void> {
    for (const w of this.workers.values()) {
      if (w.jobId === jobId) await this.saveWorker({ ...w, jobId: null });
    }
  }

  // ---------------------------------------------------------------- carrying out decisions

  /** Takes the decision's job as the current record, then carries out its commands in order. Returns the job as it is afterwards. */
  private async apply(d: Decision): Promise<JobRecord> {
    this.jobs.set(d.job.jobId, d.job);
    for (const c of d.commands) await this.carryOut(c);
    return this.jobs.get(d.job.jobId) ?? d.job;
  }

  /** Applies `decision` to the current record of a known job (inside its serial queue); null when the job is unknown. */
  private async decide(jobId: string, decision: (job: JobRecord) => Decision): Promise<JobRecord | null> {
    const job = this.jobs.get(jobId);
    return job ? this.apply(decision(job)) : null;
  }

  private async carryOut(c: Command): Promise<void> {
    switch (c.kind) {
      case 'persist-job':
        await this.store.saveJob(c.job);
        return;
      case 'log':
        this.log(c.line);
        return;
      case 'emit': {
        const e = await this.store.appendEvent(c.jobId, c.body, this.now());
        this.events.emit(c.jobId, e);
        return;
      }
      case 'release-workers':
        await this.releaseWorkers(c.jobId);
        return;
      case 'clear-attempt':
        await this.store.clearAttempt(c.jobId, c.attempt);
        return;
      case 'schedule-rendezvous':
        this.scheduleRendezvous();
        return;
      case 'stop-executors':
        this.sendStops(c.jobId, c.attempt, c.workerIds, c.reason);
        return;
      case 'start-executors': {
        const outcomes = await this.sendStarts(c.shares);
        await this.decide(c.jobId, (job) => (job.attempt === c.attempt ? startResults(job, outcomes, this.now()) : unchanged(job)));
        return;
      }
      case 'record-step': {
        const all = await this.store.recordRankStep(c.jobId, c.attempt, c.rank, c.worldSize, c.metrics);
        if (all) await this.decide(c.jobId, (job) => stepComplete(job, all, this.now()));
        return;
      }
      case 'record-checkpoint': {
        const complete = await this.store.recordRankCheckpoint(c.jobId, c.attempt, c.rank, c.worldSize, c.step, c.path);
        if (complete) await this.decide(c.jobId, (job) => checkpointComplete(job, c.step, c.path, this.now()));
        return;
      }
      case 'append-metrics':
        await this.store.appendMetrics(c.jobId, c.summary);
        return;
    }
  }

  /** Asks each worker to end its executors (not awaited); a worker that confirms has none left. */
  private sendStops(jobId: string, attempt: number, workerIds: string[], reason: string): void {
    for (const workerId of workerIds) {
      const w = this.workers.get(workerId);
      if (!w) continue;
      const stopping = this.client(w)
        .stop(jobId, attempt, reason)
        .then(
          () => this.serial(jobId, () => this.decide(jobId, (job) => workerStopped(job, workerId, attempt, this.now()))),
          (e: unknown) => this.log(`job ${jobId}: stopping worker ${workerId} failed (${(e as Error).message}); it counts as stopped once it is lost`),
        );
      this.background(stopping, `stopping worker ${workerId}`);
    }
  }

  /** Sends every worker its share at once; each call's outcome, in the shares' order. */
  private async sendStarts(shares: Extract<Command, { kind: 'start-executors' }>['shares']): Promise<StartOutcome[]> {
    return Promise.all(
      shares.map(async ({ workerId, share }): Promise<StartOutcome> => {
        const w = this.workers.get(workerId);
        const host = w?.host ?? '?';
        try {
          if (!w) throw new UniapError('WORKER_LOST', `worker ${workerId} is no member any more`);
          const result = await this.client(w).start(share);
          return { workerId, host, ok: true, planSha256: result.planSha256, processes: result.processes };
        } catch (e) {
          return { workerId, host, ok: false, code: isUniapError(e) ? e.code : 'RUNTIME_FAILED', message: (e as Error).message, unreachable: isUnreachable(e) };
        }
      }),
    );
  }

  // ---------------------------------------------------------------- membership

  async register(r: Registration): Promise<RegisterResult> {
    const now = this.now();
    const workerId = r.workerId ?? `worker-${randomBytes(3).toString('hex')}`;
    const old = this.workers.get(workerId);
    if (old && old.jobId !== null && old.state !== 'lost') {
      // The same worker registering again has restarted: its executors are gone.
      await this.declareLost(old, 're-registered (the worker agent restarted), so its executors are gone');
    }
    this.clients.get(workerId)?.close();
    this.clients.delete(workerId);
    const rec: WorkerRecord = {
      workerId,
      host: r.host,
      address: r.address,
      devices: r.devices,
      nodeRank: r.nodeRank,
      pid: r.pid,
      version: r.version,
      state: 'idle',
      registeredAtMs: now,
      lastHeartbeatAtMs: now,
      jobId: null,
    };
    await this.saveWorker(rec);
    this.log(`worker ${workerId} registered from ${r.host} (${r.devices.length} ${r.devices[0]?.kind ?? 'cpu'} device(s), Worker service at ${r.address})`);
    this.scheduleRendezvous();
    return { workerId, heartbeatIntervalMs: this.heartbeatIntervalMs, heartbeatTimeoutMs: this.heartbeatTimeoutMs };
  }

  async heartbeat(h: Heartbeat): Promise<HeartbeatResult> {
    const w = this.workers.get(h.workerId);
    if (!w || w.state === 'lost' || w.state === 'exited') return { known: false, stop: h.jobId !== null };
    const job = h.jobId ? this.jobs.get(h.jobId) : undefined;
    const wanted = job !== undefined && job.attempt === h.attempt && (job.state === 'starting' || job.state === 'running') && w.jobId === job.jobId;
    await this.saveWorker({ ...w, state: h.state, lastHeartbeatAtMs: this.now() });
    // A worker that became idle may complete a waiting job's rendezvous.
    if (h.state === 'idle' && w.state !== 'idle') this.scheduleRendezvous();
    if (h.state === 'exited' && w.jobId !== null) {
      const cur = this.workers.get(h.workerId);
      if (cur) await this.declareLost(cur, 'exited (its agent was shut down)');
    }
    const reported = h.planSha256;
    if (job && wanted && reported !== null && reported !== job.planSha256) {
      const failure = planMismatchFailure(job, h.workerId, reported, ' runs');
      await this.serial(job.jobId, () => this.decide(job.jobId, (j) => onFailure(j, failure, this.now())));
      return { known: true, stop: true };
    }
    return { known: true, stop: h.jobId !== null && !wanted };
  }

  /** Marks a member lost and fails (or restarts) the job it takes part in. */
  private async declareLost(w: WorkerRecord, why: string): Promise<void> {
    const jobId = w.jobId;
    await this.saveWorker({ ...w, state: why.startsWith('exited') ? 'exited' : 'lost', jobId: null });
    this.clients.get(w.workerId)?.close();
    this.clients.delete(w.workerId);
    this.log(`worker ${w.workerId} (${w.host}) ${why}`);
    if (jobId === null) return;
    await this.serial(jobId, () => this.decide(jobId, (job) => onWorkerLost(job, w, why, this.now())));
  }

  // ---------------------------------------------------------------- jobs

  async submitJob(s: JobSubmission): Promise<SubmitResult> {
    let planData: unknown;
    let raw: ModelSpec;
    try {
      planData = JSON.parse(s.planJson);
      raw = JSON.parse(s.modelJson) as ModelSpec;
    } catch (e) {
      throw new UniapError('CONFIG_INVALID', `submitted plan or model is not JSON (${(e as Error).message}); submit the plan file's text and a resolved ModelSpec`);
    }
    const plan = parsePlan(planData, 'submitted plan');
    const model = resolvedModel(raw);
    // The same validation `uniap launch` ran before submitting: a gRPC client that skipped it gets
    // the same one-line error here, before any worker starts an executor.
    checkPlanForModel(plan, model, 'submitted plan');
    const modelJson = JSON.stringify(model);
    const now = this.now();
    const jobId = s.jobId ?? newJobId(now);
    if (this.jobs.has(jobId)) throw new UniapError('CONFIG_INVALID', `job ${jobId} exists already; submit under another id`);
    const job = await this.apply(
      submitted(
        { jobId, planJson: s.planJson, planSha256: sha256Hex(s.planJson), modelJson, modelName: model.name, options: s.options },
        { worldSize: plan.cluster.devices, globalBatch: plan.globalBatch, predictedTimePerIterationMs: plan.predictions?.timePerIterationMs ?? null },
        now,
      ),
    );
    return { jobId, planSha256: job.planSha256, worldSize: job.worldSize };
  }

  async stopJob(jobId: string, reason: string): Promise<JobState> {
    return this.serial(jobId, async () => {
      const job = this.requireJob(jobId);
      return (await this.apply(onStopRequest(job, reason, this.now()))).state;
    });
  }

  private requireJob(jobId: string): JobRecord {
    const job = this.jobs.get(jobId);
    if (!job) throw new UniapError('CONFIG_INVALID', `no job ${jobId} on this coordinator; \`uniap coordinator status\` lists the jobs`);
    return job;
  }

  // ---------------------------------------------------------------- rendezvous

  private scheduleRendezvous(): void {
    if (this.rendezvousQueued || this.closed) return;
    this.rendezvousQueued = true;
    const pass = this.serial('*', async () => {
      this.rendezvousQueued = false;
      for (const job of [...this.jobs.values()].sort((a, b) => a.createdAtMs - b.createdAtMs)) {
        if (job.state === 'waiting') await this.serial(job.jobId, () => this.tryStart(job.jobId));
      }
    });
    this.background(pass, 'rendezvous');
  }

  /** Starts a waiting job when the free workers cover it: assigns them, has the master reserve its port, then starts the attempt. */
  private async tryStart(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'waiting') return;
    const r = planRendezvous(job.worldSize, freeWorkersInRankOrder(this.workers.values()));
    if (!r) return;
    for (const { workerId } of r.chosen) await this.saveWorker({ ...this.workers.get(workerId)!, jobId });
    let masterPort: number;
    try {
      masterPort = (await this.client(this.workers.get(r.master.workerId)!).prepare(jobId, job.attempt)).masterPort;
    } catch (e) {
      this.log(`job ${jobId}: worker ${r.master.workerId} could not reserve a master port (${(e as Error).message}); waiting`);
      for (const { workerId } of r.chosen) {
        const cur = this.workers.get(workerId);
        if (cur) await this.saveWorker({ ...cur, jobId: null });
      }
      return;
    }
    await this.decide(jobId, (j) => startAttempt(j, r, masterPort, this.now()));
  }

  // ---------------------------------------------------------------- executor events

  async reportEvents(workerId: string, events: ExecutorEvent[]): Promise<{ stop: boolean }> {
    const w = this.workers.get(workerId);
    if (!w || w.state === 'lost' || w.state === 'exited') return { stop: true };
    await this.saveWorker({ ...w, lastHeartbeatAtMs: this.now() });
    const byJob = new Map<string, ExecutorEvent[]>();
    for (const e of events) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e]);
    for (const [jobId, evs] of byJob) {
      await this.serial(jobId, async () => {
        for (const e of evs) await this.decide(jobId, (job) => onExecutorEvent(job, workerId, e, this.now()));
      });
    }
    const last = events[events.length - 1];
    if (!last) return { stop: false };
    const job = this.jobs.get(last.jobId);
    const wanted = job !== undefined && job.attempt === last.attempt && (job.state === 'starting' || job.state === 'running');
    return { stop: !wanted };
  }

  // ---------------------------------------------------------------- monitor

  private async tick(): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      await this.checkMembers();
    } finally {
      this.ticking = false;
    }
  }

  /** Lost members, waiting jobs that may start now, and rendezvous that ran out of time. */
  private async checkMembers(): Promise<void> {
    const now = this.now();
    for (const id of [...this.workers.keys()]) {
      const w = this.workers.get(id); // the newest record: earlier iterations awaited
      const why = w ? heartbeatVerdict(w, now, this.graceFromMs, this.heartbeatTimeoutMs) : null;
      if (w && why) await this.declareLost(w, why);
    }
    if ([...this.jobs.values()].some((j) => j.state === 'waiting')) this.scheduleRendezvous();
    for (const job of [...this.jobs.values()]) {
      if (!rendezvousExpired(job, now)) continue;
      await this.serial(job.jobId, () =>
        this.decide(job.jobId, (j) => rendezvousTimeout(j, now, freeWorkersInRankOrder(this.workers.values()).reduce((s, w) => s + w.devices.length, 0))),
      );
    }
  }

  /** Ends every member's agent (launch calls this when its job is over). */
  async shutdownWorkers(reason: string): Promise<void> {
    await Promise.allSettled(
      [...this.workers.values()]
        .filter((w) => ALIVE.has(w.state))
        .map(async (w) => {
          await this.client(w).shutdown(reason);
          await this.saveWorker({ ...w, state: 'exited', jobId: null });
        }),
    );
  }

  // ---------------------------------------------------------------- status and watching

  async getStatus(jobId: string | null): Promise<CoordinatorStatus> {
    // Read from Redis, not memory: the status is what a restarted coordinator would report.
    const jobs = jobId === null ? await this.store.listJobs() : [await this.store.getJob(jobId)].filter((j): j is JobRecord => j !== null);
    if (jobId !== null && jobs.length === 0) this.requireJob(jobId);
    const workers = await this.store.listWorkers();
    return {
      coordinatorId: this.coordinatorId,
      startedAtMs: this.startedAtMs,
      workers: workers.map(workerStatus),
      jobs: jobs.map(jobStatus),
    };
  }

  async watchJob(jobId: string, afterSeq: number, onEvent: (e: JobEvent) => void, signal: AbortSignal): Promise<void> {
    if (!(await this.store.getJob(jobId))) this.requireJob(jobId);
    let last = afterSeq;
    let finished = false;
    const buffered: JobEvent[] = [];
    let live = false;
    return new Promise<void>((resolve, reject) => {
      const deliver = (e: JobEvent): void => {
        if (finished || e.seq <= last) return;
        last = e.seq;
        onEvent(e);
        if (e.body.kind === 'result') finish();
      };
      const listener = (e: JobEvent): void => {
        if (live) deliver(e);
        else buffered.push(e);
      };
      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.events.off(jobId, listener);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      this.events.on(jobId, listener);
      signal.addEventListener('abort', finish, { once: true });
      if (signal.aborted) return finish();
      this.store.eventsAfter(jobId, afterSeq).then(
        (history) => {
          for (const e of history) deliver(e);
          live = true;
          for (const e of buffered.splice(0)) deliver(e);
        },
        (e: unknown) => {
          finish();
          reject(e);
        },
      );
    });
  }
}

/**
 * The submitted model as the executors will read it: a resolved ModelSpec with its facts recomputed
 * here (configs/model-facts.ts), never trusted from the submitter.
 */
function resolvedModel(m: ModelSpec): ModelSpecWithFacts {
  const layersOk = Array.isArray(m.layers) && m.layers.every((l, i) => l !== null && typeof l === 'object' && l.index === i && typeof l.type === 'string');
  if (typeof m.name !== 'string' || !layersOk) {
    throw new UniapError('CONFIG_INVALID', 'submitted model is not a resolved ModelSpec (a name and layers indexed 0..n-1 with a type); resolve it with loadModel and submit withFacts(model)');
  }
  try {
    return withFacts(m);
  } catch (e) {
    throw new UniapError('CONFIG_INVALID', `submitted model ${m.name} is not a resolved ModelSpec (${(e as Error).message}); resolve it with loadModel and submit withFacts(model)`);
  }
}
