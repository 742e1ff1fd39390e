// The coordinator: membership (register, heartbeats, lost workers), jobs (rendezvous, rank and master
// assignment, plan distribution with hash verification, metric aggregation, stop, restart from the last
// checkpoint) and the event stream the CLI watches. Every job and worker record is written through to
// Redis (job-store.ts), so a coordinator restarted on the same store resumes with the same state.
// Jobs follow the state machine of job-state.ts; all changes of one job run one at a time (`serial`).
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { UniapError, isUniapError } from '../../configs/errors.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { parsePlan } from '../../planner/plan-io.ts';
import { JOB_TRANSITIONS, liveRanks, ranksOf, workersOf, type JobRecord } from './job-state.ts';
import type { RedisJobStore, WorkerRecord } from './job-store.ts';
import { summarizeStep } from './metrics.ts';
import { assertTransition, type LogFn } from './state-machine.ts';
import { isUnreachable, type CoordinatorApi, type Transport, type WorkerClient } from './transport.ts';
import {
  isTerminal,
  type CoordinatorStatus,
  type ExecutorEvent,
  type Failure,
  type Heartbeat,
  type HeartbeatResult,
  type JobEvent,
  type JobEventBody,
  type JobState,
  type JobStatus,
  type JobSubmission,
  type RankAssignment,
  type RegisterResult,
  type Registration,
  type SubmitResult,
  type WorkerShare,
  type WorkerStatus,
} from './types.ts';

export interface CoordinatorOptions {
  store: RedisJobStore;
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

/** Worker states in which a member can take part in a job. */
const ALIVE = new Set(['connecting', 'idle', 'starting', 'running', 'stopping']);

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function newJobId(now: number): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `job-${d}-${randomBytes(2).toString('hex')}`;
}

function rankRange(ranks: RankAssignment[]): string {
  if (ranks.length === 0) return 'no ranks';
  const rs = ranks.map((r) => r.rank).sort((a, b) => a - b);
  return rs.length === 1 ? `rank ${rs[0]}` : `ranks ${rs[0]}-${rs[rs.length - 1]}`;
}

export class Coordinator implements CoordinatorApi {
  readonly coordinatorId: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  private readonly store: RedisJobStore;
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
      if (j.state === 'stopping' || j.state === 'restarting') this.background(this.serial(j.jobId, async () => this.stopExecutors(j, 'coordinator restarted while the job was stopping')), `stopping job ${j.jobId}`);
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

  private async saveJob(job: JobRecord): Promise<void> {
    job.updatedAtMs = this.now();
    this.jobs.set(job.jobId, job);
    await this.store.saveJob(job);
  }

  private async emit(job: JobRecord, body: JobEventBody): Promise<JobEvent> {
    const e = await this.store.appendEvent(job.jobId, body, this.now());
    this.events.emit(job.jobId, e);
    return e;
  }

  /** The one place a job changes state: checks the transition table, saves, logs and emits it. */
  private async transition(job: JobRecord, to: JobState, reason: string): Promise<void> {
    const from = job.state;
    assertTransition(JOB_TRANSITIONS, `job ${job.jobId}`, from, to, reason);
    job.state = to;
    job.stateSinceMs = this.now();
    await this.saveJob(job);
    this.log(`job ${job.jobId}: ${from} -> ${to} (${reason})`);
    await this.emit(job, { kind: 'state', from, to, reason });
    if (isTerminal(to)) {
      await this.releaseWorkers(job);
      await this.store.clearAttempt(job.jobId, job.attempt);
      await this.emit(job, { kind: 'result', state: to, failure: job.failure, lastStep: job.lastStep });
      this.scheduleRendezvous();
    }
  }

  private async releaseWorkers(job: JobRecord): Promise<void> {
    for (const w of this.workers.values()) {
      if (w.jobId === job.jobId) await this.saveWorker({ ...w, jobId: null });
    }
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
      await this.serial(job.jobId, () =>
        this.fail(job.jobId, {
          code: 'RUNTIME_FAILED',
          message: `worker ${h.workerId} runs a plan with sha256 ${reported.slice(0, 12)}..., not the job's ${job.planSha256.slice(0, 12)}...; the plan was changed on the way`,
          workerId: h.workerId,
          rank: null,
        }),
      );
      return { known: true, stop: true };
    }
    return { known: true, stop: h.jobId !== null && !wanted };
  }

  /** Marks a member lost and fails (or restarts) the jobs it takes part in. */
  private async declareLost(w: WorkerRecord, why: string): Promise<void> {
    const jobId = w.jobId;
    await this.saveWorker({ ...w, state: why.startsWith('exited') ? 'exited' : 'lost', jobId: null });
    this.clients.get(w.workerId)?.close();
    this.clients.delete(w.workerId);
    this.log(`worker ${w.workerId} (${w.host}) ${why}`);
    if (jobId === null) return;
    await this.serial(jobId, async () => {
      const job = this.jobs.get(jobId);
      if (!job || isTerminal(job.state) || job.state === 'waiting') return;
      if (!workersOf(job).includes(w.workerId) || job.lostWorkers.includes(w.workerId)) return;
      job.lostWorkers.push(w.workerId);
      const failure: Failure = {
        code: 'WORKER_LOST',
        message: `worker ${w.workerId} (${w.host}, ${rankRange(ranksOf(job, w.workerId))}) ${why}`,
        workerId: w.workerId,
        rank: null,
      };
      await this.failWith(job, failure);
    });
  }

  // ---------------------------------------------------------------- jobs

  async submitJob(s: JobSubmission): Promise<SubmitResult> {
    let planData: unknown;
    let model: ModelSpec;
    try {
      planData = JSON.parse(s.planJson);
      model = JSON.parse(s.modelJson) as ModelSpec;
    } catch (e) {
      throw new UniapError('CONFIG_INVALID', `submitted plan or model is not JSON (${(e as Error).message}); submit the plan file's text and a resolved ModelSpec`);
    }
    const plan = parsePlan(planData, 'submitted plan');
    if (!Array.isArray(model.layers) || typeof model.name !== 'string') {
      throw new UniapError('CONFIG_INVALID', 'submitted model is not a resolved ModelSpec (no name or layers); resolve it with loadModel first');
    }
    if (model.layers.length !== plan.model.layers) {
      throw new UniapError(
        'DEGREE_MISMATCH',
        `the plan was made for a model with ${plan.model.layers} layers (${plan.model.name}), the model ${model.name} has ${model.layers.length}; plan this model or pass the model the plan names`,
      );
    }
    const now = this.now();
    const jobId = s.jobId ?? newJobId(now);
    if (this.jobs.has(jobId)) throw new UniapError('CONFIG_INVALID', `job ${jobId} exists already; submit under another id`);
    const job: JobRecord = {
      jobId,
      state: 'waiting',
      stateSinceMs: now,
      attempt: 0,
      restarts: 0,
      planJson: s.planJson,
      planSha256: sha256Hex(s.planJson),
      modelJson: s.modelJson,
      modelName: model.name,
      options: s.options,
      worldSize: plan.cluster.devices,
      globalBatch: plan.globalBatch,
      predictedTimePerIterationMs: plan.predictions?.timePerIterationMs ?? null,
      ranks: [],
      masterAddr: null,
      masterPort: null,
      backend: null,
      readyRanks: [],
      doneRanks: [],
      endedRanks: [],
      lostWorkers: [],
      rankErrors: {},
      pending: null,
      failure: null,
      lastStep: null,
      lastCheckpointStep: null,
      lastCheckpointPath: null,
      lastMetrics: null,
      createdAtMs: now,
      updatedAtMs: now,
    };
    await this.saveJob(job);
    this.log(`job ${jobId}: submitted (${model.name}, ${job.worldSize} ranks, ${s.options.steps} steps, plan sha256 ${job.planSha256.slice(0, 12)}...)`);
    await this.emit(job, { kind: 'state', from: null, to: 'waiting', reason: `waiting for workers with ${job.worldSize} devices` });
    this.scheduleRendezvous();
    return { jobId, planSha256: job.planSha256, worldSize: job.worldSize };
  }

  async stopJob(jobId: string, reason: string): Promise<JobState> {
    return this.serial(jobId, async () => {
      const job = this.requireJob(jobId);
      if (isTerminal(job.state)) return job.state;
      const why = reason || 'stop requested';
      if (job.state === 'waiting') {
        await this.transition(job, 'stopped', why);
        return job.state;
      }
      if (job.state === 'stopping') {
        if (job.pending) job.pending = { state: 'stopped', failure: null };
        await this.saveJob(job);
        return job.state;
      }
      job.pending = { state: 'stopped', failure: null };
      await this.transition(job, 'stopping', why);
      await this.stopExecutors(job, why);
      return job.state;
    });
  }

  private requireJob(jobId: string): JobRecord {
    const job = this.jobs.get(jobId);
    if (!job) throw new UniapError('CONFIG_INVALID', `no job ${jobId} on this coordinator; \`uniap coordinator status\` lists the jobs`);
    return job;
  }

  /** Fails the current attempt of a job (inside its serial queue). */
  private async fail(jobId: string, failure: Failure): Promise<void> {
    const job = this.jobs.get(jobId);
    if (job) await this.failWith(job, failure);
  }

  /**
   * A failure of the running attempt: restart from the last checkpoint while restarts are left, else
   * stop every executor and end `failed`. A lost worker is the root cause of whatever its peers report
   * afterwards (their collectives break), so it replaces an earlier executor error in the message.
   */
  private async failWith(job: JobRecord, failure: Failure): Promise<void> {
    if (isTerminal(job.state) || job.state === 'waiting') return;
    if (job.state === 'stopping' || job.state === 'restarting') {
      if (failure.code === 'WORKER_LOST' && job.pending?.state === 'failed' && job.pending.failure?.code !== 'WORKER_LOST') {
        const earlier = job.pending.failure;
        const merged: Failure = { ...failure, message: earlier ? `${failure.message}; before that: ${earlier.message}` : failure.message };
        job.pending = { state: 'failed', failure: merged };
        job.failure = merged;
      }
      await this.saveJob(job);
      await this.maybeFinishStop(job);
      return;
    }
    job.failure = failure;
    job.pending = { state: 'failed', failure };
    if (job.restarts < job.options.maxRestarts) {
      await this.transition(job, 'restarting', `${failure.message}; restart ${job.restarts + 1} of ${job.options.maxRestarts} from ${job.lastCheckpointStep === null ? 'the beginning (no checkpoint yet)' : `the checkpoint of step ${job.lastCheckpointStep}`}`);
    } else {
      await this.transition(job, 'stopping', failure.message);
    }
    await this.stopExecutors(job, failure.message);
  }

  /** Asks every live worker of the attempt to end its executors; a worker that confirms has none left. */
  private async stopExecutors(job: JobRecord, reason: string): Promise<void> {
    const attempt = job.attempt;
    for (const workerId of workersOf(job)) {
      if (job.lostWorkers.includes(workerId)) continue;
      const w = this.workers.get(workerId);
      if (!w) continue;
      const stopping = this.client(w)
        .stop(job.jobId, attempt, reason)
        .then(
          () =>
            this.serial(job.jobId, async () => {
              const cur = this.jobs.get(job.jobId);
              if (!cur || cur.attempt !== attempt) return;
              for (const r of ranksOf(cur, workerId)) if (!cur.endedRanks.includes(r.rank)) cur.endedRanks.push(r.rank);
              await this.saveJob(cur);
              await this.maybeFinishStop(cur);
            }),
          (e: unknown) => this.log(`job ${job.jobId}: stopping worker ${workerId} failed (${(e as Error).message}); it counts as stopped once it is lost`),
        );
      this.background(stopping, `stopping worker ${workerId}`);
    }
    await this.maybeFinishStop(job);
  }

  /** stopping/restarting end once no executor of the attempt can still run. */
  private async maybeFinishStop(job: JobRecord): Promise<void> {
    if (job.state !== 'stopping' && job.state !== 'restarting') return;
    if (liveRanks(job).length > 0) return;
    if (job.state === 'stopping') {
      const target = job.pending?.state ?? 'failed';
      if (target === 'stopped') job.failure = null;
      await this.transition(job, target, target === 'failed' ? (job.failure?.message ?? 'failed') : 'every executor ended');
      return;
    }
    // restarting: a fresh attempt from the last checkpoint, with whichever workers are alive.
    await this.store.clearAttempt(job.jobId, job.attempt);
    await this.releaseWorkers(job);
    job.attempt += 1;
    job.restarts += 1;
    job.ranks = [];
    job.masterAddr = null;
    job.masterPort = null;
    job.pending = null;
    await this.transition(job, 'waiting', `attempt ${job.attempt}: waiting for workers with ${job.worldSize} devices`);
    this.scheduleRendezvous();
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

  /** Idle members in rank order: --node-rank first, then registration order. */
  private freeWorkers(): WorkerRecord[] {
    return [...this.workers.values()]
      .filter((w) => w.jobId === null && w.state === 'idle')
      .sort((a, b) => (a.nodeRank ?? Infinity) - (b.nodeRank ?? Infinity) || a.registeredAtMs - b.registeredAtMs || a.workerId.localeCompare(b.workerId));
  }

  private async tryStart(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'waiting') return;
    const chosen: { w: WorkerRecord; devices: WorkerRecord['devices'] }[] = [];
    let have = 0;
    for (const w of this.freeWorkers()) {
      if (have >= job.worldSize) break;
      const devices = [...w.devices].sort((a, b) => a.index - b.index).slice(0, job.worldSize - have);
      chosen.push({ w, devices });
      have += devices.length;
    }
    if (have < job.worldSize) return;

    const ranks: RankAssignment[] = [];
    for (const { w, devices } of chosen) {
      devices.forEach((d, localRank) => ranks.push({ rank: ranks.length, localRank, deviceIndex: d.index, workerId: w.workerId, pid: null }));
    }
    const allGpu = chosen.every(({ devices }) => devices.every((d) => d.kind === 'gpu'));
    const master = chosen[0]!.w;
    for (const { w } of chosen) await this.saveWorker({ ...w, jobId: job.jobId });
    let masterPort: number;
    try {
      masterPort = (await this.client(master).prepare(job.jobId, job.attempt)).masterPort;
    } catch (e) {
      this.log(`job ${job.jobId}: worker ${master.workerId} could not reserve a master port (${(e as Error).message}); waiting`);
      for (const { w } of chosen) {
        const cur = this.workers.get(w.workerId);
        if (cur) await this.saveWorker({ ...cur, jobId: null });
      }
      return;
    }
    job.ranks = ranks;
    job.masterAddr = master.host;
    job.masterPort = masterPort;
    job.backend = allGpu ? 'nccl' : 'gloo';
    job.readyRanks = [];
    job.doneRanks = [];
    job.endedRanks = [];
    job.lostWorkers = [];
    job.rankErrors = {};
    job.pending = null;
    const resume = job.attempt > 0 && job.lastCheckpointStep !== null;
    await this.transition(
      job,
      'starting',
      `${job.worldSize} ranks on ${chosen.map(({ w, devices }) => `${w.workerId} (${devices.length})`).join(', ')}; master ${job.masterAddr}:${masterPort}, ${job.backend}${resume ? `, resuming from step ${job.lastCheckpointStep}` : ''}`,
    );

    const results = await Promise.allSettled(
      chosen.map(async ({ w }) => {
        const share: WorkerShare = {
          jobId: job.jobId,
          attempt: job.attempt,
          planJson: job.planJson,
          planSha256: job.planSha256,
          modelJson: job.modelJson,
          options: job.options,
          resume,
          worldSize: job.worldSize,
          masterAddr: job.masterAddr!,
          masterPort,
          backend: job.backend!,
          ranks: ranksOf(job, w.workerId),
        };
        return { w, result: await this.client(w).start(share) };
      }),
    );
    if ((job.state as JobState) !== 'starting') return;
    let failure: Failure | null = null;
    results.forEach((r, i) => {
      const w = chosen[i]!.w;
      if (r.status === 'rejected') {
        const e = r.reason as Error;
        failure ??= {
          code: isUniapError(e) ? e.code : 'RUNTIME_FAILED',
          message: `worker ${w.workerId} (${w.host}) could not start its executors: ${e.message}`,
          workerId: w.workerId,
          rank: null,
        };
        // A worker that could not be reached has no executors of this attempt.
        if (isUnreachable(e)) for (const a of ranksOf(job, w.workerId)) if (!job.endedRanks.includes(a.rank)) job.endedRanks.push(a.rank);
        return;
      }
      const { result } = r.value;
      if (result.planSha256 !== job.planSha256) {
        failure ??= {
          code: 'RUNTIME_FAILED',
          message: `worker ${w.workerId} (${w.host}) wrote a plan with sha256 ${result.planSha256.slice(0, 12)}..., not the job's ${job.planSha256.slice(0, 12)}...; the plan was changed on the way`,
          workerId: w.workerId,
          rank: null,
        };
      }
      for (const p of result.processes) {
        const a = job.ranks.find((x) => x.rank === p.rank);
        if (a) a.pid = p.pid;
      }
    });
    await this.saveJob(job);
    if (failure) await this.failWith(job, failure);
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
        for (const e of evs) await this.onExecutorEvent(jobId, workerId, e);
      });
    }
    const last = events[events.length - 1];
    if (!last) return { stop: false };
    const job = this.jobs.get(last.jobId);
    const wanted = job !== undefined && job.attempt === last.attempt && (job.state === 'starting' || job.state === 'running');
    return { stop: !wanted };
  }

  private async onExecutorEvent(jobId: string, workerId: string, e: ExecutorEvent): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || isTerminal(job.state) || e.attempt !== job.attempt) return;
    const assignment = job.ranks.find((r) => r.rank === e.rank);
    if (!assignment || assignment.workerId !== workerId) return;
    const b = e.body;
    switch (b.kind) {
      case 'ready': {
        assignment.pid = b.pid;
        if (!job.readyRanks.includes(e.rank)) job.readyRanks.push(e.rank);
        await this.saveJob(job);
        if (job.state === 'starting' && job.readyRanks.length === job.worldSize) await this.transition(job, 'running', `all ${job.worldSize} ranks ready`);
        return;
      }
      case 'step': {
        if (job.state === 'starting') await this.transition(job, 'running', `rank ${e.rank} reported step ${b.metrics.step}`);
        const all = await this.store.recordRankStep(jobId, job.attempt, e.rank, job.worldSize, b.metrics);
        if (!all) return;
        const summary = summarizeStep(all, job.globalBatch);
        job.lastStep = Math.max(job.lastStep ?? -1, summary.step);
        job.lastMetrics = summary;
        await this.saveJob(job);
        await this.store.appendMetrics(jobId, summary);
        await this.emit(job, { kind: 'step', summary });
        return;
      }
      case 'checkpoint': {
        const complete = await this.store.recordRankCheckpoint(jobId, job.attempt, e.rank, job.worldSize, b.step, b.path);
        if (!complete) return;
        job.lastCheckpointStep = Math.max(job.lastCheckpointStep ?? -1, b.step);
        job.lastCheckpointPath = b.path;
        await this.saveJob(job);
        await this.emit(job, { kind: 'checkpoint', step: b.step, path: b.path });
        return;
      }
      case 'log':
        await this.emit(job, { kind: 'log', rank: e.rank, workerId, line: b.line });
        return;
      case 'error': {
        job.rankErrors[String(e.rank)] ??= { message: b.message, workerId, timeMs: e.timeMs };
        // An error older than the one blamed so far (it came through another worker, later) is the cause.
        const blamed = job.pending?.failure;
        if (job.pending?.state === 'failed' && blamed?.code === 'RUNTIME_FAILED' && blamed.rank !== e.rank) {
          const blamedAt = blamed.rank !== null ? job.rankErrors[String(blamed.rank)]?.timeMs : undefined;
          if (blamedAt === undefined || e.timeMs < blamedAt) {
            const cause: Failure = { code: 'RUNTIME_FAILED', message: `rank ${e.rank} on worker ${workerId} failed: ${b.message}; then ${blamed.message}`, workerId, rank: e.rank };
            job.pending = { state: 'failed', failure: cause };
            job.failure = cause;
          }
        }
        await this.saveJob(job);
        await this.emit(job, { kind: 'log', rank: e.rank, workerId, line: `error: ${b.message}` });
        return;
      }
      case 'done':
        if (!job.doneRanks.includes(e.rank)) job.doneRanks.push(e.rank);
        await this.saveJob(job);
        return;
      case 'exit': {
        if (!job.endedRanks.includes(e.rank)) job.endedRanks.push(e.rank);
        await this.saveJob(job);
        const clean = b.code === 0;
        if (job.state === 'starting' || job.state === 'running') {
          if (!clean) {
            await this.failWith(job, exitFailure(job, e.rank, workerId, b.code, b.signal, b.pid));
            return;
          }
          if (job.endedRanks.length === job.worldSize) {
            job.failure = null;
            await this.transition(job, 'succeeded', `all ${job.worldSize} ranks finished ${job.options.steps} steps`);
          }
          return;
        }
        await this.maybeFinishStop(job);
        return;
      }
    }
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
      if (!w || !ALIVE.has(w.state)) continue;
      const since = Math.max(w.lastHeartbeatAtMs, this.graceFromMs);
      const silentMs = now - since;
      if (silentMs > this.heartbeatTimeoutMs) {
        await this.declareLost(w, `stopped answering heartbeats for ${silentMs} ms (timeout ${this.heartbeatTimeoutMs} ms)`);
      }
    }
    if ([...this.jobs.values()].some((j) => j.state === 'waiting')) this.scheduleRendezvous();
    for (const job of [...this.jobs.values()]) {
      const limit = job.options.rendezvousTimeoutMs;
      if (job.state !== 'waiting' || limit === null || now - job.stateSinceMs <= limit) continue;
      await this.serial(job.jobId, async () => {
        if (job.state !== 'waiting') return;
        const devices = this.freeWorkers().reduce((s, w) => s + w.devices.length, 0);
        job.failure = {
          code: 'WORKER_LOST',
          message: `the plan needs ${job.worldSize} devices; after ${limit} ms workers with ${devices} free device(s) had registered; start more workers (uniap worker --coordinator HOST:PORT) or raise the rendezvous timeout`,
          workerId: null,
          rank: null,
        };
        await this.transition(job, 'failed', job.failure.message);
      });
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
 * The failure for an abnormal executor exit. When ranks fail together (one breaks, its peers' collectives
 * break after it), the earliest error reported is the cause, whichever process exit arrives first.
 */
export function exitFailure(job: JobRecord, rank: number, workerId: string, code: number | null, signal: string | null, pid: number): Failure {
  const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
  const own = job.rankErrors[String(rank)];
  const exited = `rank ${rank} on worker ${workerId} (pid ${pid}) ${how}`;
  const first = Object.entries(job.rankErrors).sort(([ra, a], [rb, b]) => a.timeMs - b.timeMs || Number(ra) - Number(rb))[0];
  if (first && Number(first[0]) !== rank && (!own || first[1].timeMs < own.timeMs)) {
    const [firstRank, err] = first;
    return {
      code: 'RUNTIME_FAILED',
      message: `rank ${firstRank} on worker ${err.workerId} failed: ${err.message}; then ${exited}${own ? `: ${own.message}` : ''}`,
      workerId: err.workerId,
      rank: Number(firstRank),
    };
  }
  return { code: 'RUNTIME_FAILED', message: `${exited}${own ? `: ${own.message}` : '; its log lines are in the job events'}`, workerId, rank };
}

function workerStatus(w: WorkerRecord): WorkerStatus {
  return {
    workerId: w.workerId,
    host: w.host,
    address: w.address,
    state: w.state,
    devices: w.devices,
    lastHeartbeatAtMs: w.lastHeartbeatAtMs,
    jobId: w.jobId,
    nodeRank: w.nodeRank,
  };
}

export function jobStatus(j: JobRecord): JobStatus {
  return {
    jobId: j.jobId,
    state: j.state,
    attempt: j.attempt,
    worldSize: j.worldSize,
    steps: j.options.steps,
    lastStep: j.lastStep,
    lastCheckpointStep: j.lastCheckpointStep,
    planSha256: j.planSha256,
    modelName: j.modelName,
    predictedTimePerIterationMs: j.predictedTimePerIterationMs,
    ranks: j.ranks,
    failure: j.failure,
    lastMetrics: j.lastMetrics,
    restarts: j.restarts,
    masterAddr: j.masterAddr,
    masterPort: j.masterPort,
    createdAtMs: j.createdAtMs,
    updatedAtMs: j.updatedAtMs,
  };
}
