// The control plane's persistence: the JobStore interface (membership, heartbeats, job records, job
// events, per-iteration metrics) and its Redis implementation. A coordinator restarted on the same
// Redis (and key prefix) reads the jobs and workers back and reports their state. memory-job-store.ts
// is the in-process implementation for unit tests; job-store.conformance.test.ts runs both. Every value
// is written with a schema version (store-records.ts). Redis keys, all under `<prefix>:`:
//   workers                       hash  workerId -> WorkerRecord JSON (heartbeat time included)
//   jobs                          hash  jobId -> JobRecord JSON
//   job:<id>:seq                  counter of the job's events
//   job:<id>:events               list  JobEvent JSON (the newest MAX_EVENTS)
//   job:<id>:metrics              list  StepSummary JSON, one per iteration
//   job:<id>:a<attempt>:step:<k>  hash  rank -> StepMetrics JSON until every rank reported step k
//   job:<id>:a<attempt>:ckpt:<k>  hash  rank -> {path} JSON until every rank reported checkpoint k
import { Redis } from 'ioredis';
import { UniapError } from '../../common/errors.ts';
import type { JobRecord } from './job-state.ts';
import { decodeRecord, encodeRecord } from './store-records.ts';
import type { DeviceInfo, JobEvent, JobEventBody, MemberState, StepMetrics, StepSummary } from './types.ts';

/** What the coordinator keeps about a member. */
export interface WorkerRecord {
  workerId: string;
  host: string;
  address: string;
  devices: DeviceInfo[];
  nodeRank: number | null;
  pid: number;
  version: string;
  state: MemberState;
  registeredAtMs: number;
  lastHeartbeatAtMs: number;
  /** The job this worker is assigned to, if any. */
  jobId: string | null;
}

/** Events kept per job; older ones are trimmed (watchers that fall this far behind miss them). */
export const MAX_EVENTS = 20_000;

/** What the coordinator stores; listings are ordered (workers by registration, jobs by creation). */
export interface JobStore {
  close(): Promise<void>;
  saveWorker(w: WorkerRecord): Promise<void>;
  getWorker(workerId: string): Promise<WorkerRecord | null>;
  listWorkers(): Promise<WorkerRecord[]>;
  deleteWorker(workerId: string): Promise<void>;
  saveJob(job: JobRecord): Promise<void>;
  getJob(jobId: string): Promise<JobRecord | null>;
  listJobs(): Promise<JobRecord[]>;
  /** Appends an event with the job's next sequence number (1, 2, ...). */
  appendEvent(jobId: string, body: JobEventBody, timeMs: number): Promise<JobEvent>;
  eventsAfter(jobId: string, afterSeq: number): Promise<JobEvent[]>;
  appendMetrics(jobId: string, summary: StepSummary): Promise<void>;
  metrics(jobId: string): Promise<StepSummary[]>;
  /**
   * Records one rank's metrics of step k; returns every rank's metrics (index = rank) when this report
   * completes the step, else null. Each step completes once (a repeated report does not count twice).
   */
  recordRankStep(jobId: string, attempt: number, rank: number, worldSize: number, m: StepMetrics): Promise<StepMetrics[] | null>;
  /** Records one rank's checkpoint of step k; returns true when every rank has saved step k. */
  recordRankCheckpoint(jobId: string, attempt: number, rank: number, worldSize: number, step: number, path: string): Promise<boolean>;
  /** Removes a job's partial step/checkpoint reports of one attempt (after the attempt ended). */
  clearAttempt(jobId: string, attempt: number): Promise<void>;
}

export const byRegistration = (a: WorkerRecord, b: WorkerRecord): number => a.registeredAtMs - b.registeredAtMs || a.workerId.localeCompare(b.workerId);
export const byCreation = (a: JobRecord, b: JobRecord): number => a.createdAtMs - b.createdAtMs || a.jobId.localeCompare(b.jobId);

export class RedisJobStore implements JobStore {
  private constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    readonly url: string,
  ) {}

  /** Connects (fails fast with a remedy when Redis is unreachable). */
  static async connect(url: string, prefix = 'uniap'): Promise<RedisJobStore> {
    const redis = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 3, enableAutoPipelining: true });
    // ioredis emits 'error' while reconnecting; the failing command reports it, so the event is only noted.
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new UniapError(
        'TOOL_MISSING',
        `cannot reach Redis at ${url} (${(e as Error).message}); start one (apt-get install redis-server, then redis-server) or leave out --redis so uniap launch starts its own`,
        { url },
      );
    }
    return new RedisJobStore(redis, prefix, url);
  }

  private key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // ---------------------------------------------------------------- membership

  async saveWorker(w: WorkerRecord): Promise<void> {
    await this.redis.hset(this.key('workers'), w.workerId, encodeRecord('worker', w));
  }

  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    const s = await this.redis.hget(this.key('workers'), workerId);
    return s === null ? null : decodeRecord<WorkerRecord>('worker', s, workerId);
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const all = await this.redis.hgetall(this.key('workers'));
    return Object.entries(all)
      .map(([id, s]) => decodeRecord<WorkerRecord>('worker', s, id))
      .sort(byRegistration);
  }

  async deleteWorker(workerId: string): Promise<void> {
    await this.redis.hdel(this.key('workers'), workerId);
  }

  // ---------------------------------------------------------------- jobs

  async saveJob(job: JobRecord): Promise<void> {
    await this.redis.hset(this.key('jobs'), job.jobId, encodeRecord('job', job));
  }

  async getJob(jobId: string): Promise<JobRecord | null> {
    const s = await this.redis.hget(this.key('jobs'), jobId);
    return s === null ? null : decodeRecord<JobRecord>('job', s, jobId);
  }

  async listJobs(): Promise<JobRecord[]> {
    const all = await this.redis.hgetall(this.key('jobs'));
    return Object.entries(all)
      .map(([id, s]) => decodeRecord<JobRecord>('job', s, id))
      .sort(byCreation);
  }

  /** Appends an event with the job's next sequence number. */
  async appendEvent(jobId: string, body: JobEventBody, timeMs: number): Promise<JobEvent> {
    const seq = await this.redis.incr(this.key('job', jobId, 'seq'));
    const event: JobEvent = { seq, jobId, timeMs, body };
    const listKey = this.key('job', jobId, 'events');
    await this.redis.multi().rpush(listKey, encodeRecord('event', event)).ltrim(listKey, -MAX_EVENTS, -1).exec();
    return event;
  }

  async eventsAfter(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    const all = await this.redis.lrange(this.key('job', jobId, 'events'), 0, -1);
    return all.map((s) => decodeRecord<JobEvent>('event', s, `of job ${jobId}`)).filter((e) => e.seq > afterSeq);
  }

  async appendMetrics(jobId: string, summary: StepSummary): Promise<void> {
    await this.redis.rpush(this.key('job', jobId, 'metrics'), encodeRecord('metrics', summary));
  }

  async metrics(jobId: string): Promise<StepSummary[]> {
    const all = await this.redis.lrange(this.key('job', jobId, 'metrics'), 0, -1);
    return all.map((s) => decodeRecord<StepSummary>('metrics', s, `of job ${jobId}`));
  }

  /**
   * Records one rank's metrics of step k; returns every rank's metrics (index = rank) when this report
   * completes the step, else null. Each step completes once (a repeated report does not count twice).
   */
  async recordRankStep(jobId: string, attempt: number, rank: number, worldSize: number, m: StepMetrics): Promise<StepMetrics[] | null> {
    const k = this.key('job', jobId, `a${attempt}`, 'step', m.step);
    const res = await this.redis.multi().hsetnx(k, String(rank), encodeRecord('rank-step', m)).hlen(k).exec();
    const added = Number(res?.[0]?.[1] ?? 0);
    const count = Number(res?.[1]?.[1] ?? 0);
    if (added !== 1 || count !== worldSize) return null;
    const all = await this.redis.hgetall(k);
    await this.redis.del(k);
    const out: StepMetrics[] = [];
    for (const [r, s] of Object.entries(all)) out[Number(r)] = decodeRecord<StepMetrics>('rank-step', s, `of job ${jobId} rank ${r}`);
    return out;
  }

  /** Records one rank's checkpoint of step k; returns true when every rank has saved step k. */
  async recordRankCheckpoint(jobId: string, attempt: number, rank: number, worldSize: number, step: number, path: string): Promise<boolean> {
    const k = this.key('job', jobId, `a${attempt}`, 'ckpt', step);
    const res = await this.redis.multi().hsetnx(k, String(rank), encodeRecord('rank-checkpoint', { path })).hlen(k).exec();
    const added = Number(res?.[0]?.[1] ?? 0);
    const count = Number(res?.[1]?.[1] ?? 0);
    if (added !== 1 || count !== worldSize) return false;
    await this.redis.del(k);
    return true;
  }

  /** Removes a job's partial step/checkpoint reports of one attempt (after the attempt ended). */
  async clearAttempt(jobId: string, attempt: number): Promise<void> {
    const pattern = `${this.key('job', jobId, `a${attempt}`)}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }
}
