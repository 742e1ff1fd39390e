// The JobStore in process memory, for unit tests of the coordinator: the same records, encoded and
// version-checked as in Redis (store-records.ts), the same ordering, event trimming and
// once-per-step completion (job-store.conformance.test.ts runs both stores through the same cases).
import type { JobRecord } from './job-state.ts';
import { MAX_EVENTS, byCreation, byRegistration, type JobStore, type WorkerRecord } from './job-store.ts';
import { decodeRecord, encodeRecord } from './store-records.ts';
import type { JobEvent, JobEventBody, StepMetrics, StepSummary } from './types.ts';

export class MemoryJobStore implements JobStore {
  /** Encoded records, as Redis would hold them. */
  private readonly workers = new Map<string, string>();
  private readonly jobs = new Map<string, string>();
  private readonly seqs = new Map<string, number>();
  private readonly events = new Map<string, string[]>();
  private readonly metricLists = new Map<string, string[]>();
  /** `<jobId>\0<attempt>\0step|ckpt\0<k>` -> rank -> encoded report. */
  private readonly partial = new Map<string, Map<number, string>>();
  private closed = false;

  constructor(private readonly maxEvents = MAX_EVENTS) {}

  /** Stores a record's text verbatim (tests of the schema-version check write what another uniap would). */
  putRaw(kind: 'job' | 'worker', id: string, text: string): void {
    (kind === 'job' ? this.jobs : this.workers).set(id, text);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): void {
    if (this.closed) throw new Error('MemoryJobStore: used after close');
  }

  async saveWorker(w: WorkerRecord): Promise<void> {
    this.open();
    this.workers.set(w.workerId, encodeRecord('worker', w));
  }

  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    this.open();
    const s = this.workers.get(workerId);
    return s === undefined ? null : decodeRecord<WorkerRecord>('worker', s, workerId);
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    this.open();
    return [...this.workers].map(([id, s]) => decodeRecord<WorkerRecord>('worker', s, id)).sort(byRegistration);
  }

  async deleteWorker(workerId: string): Promise<void> {
    this.open();
    this.workers.delete(workerId);
  }

  async saveJob(job: JobRecord): Promise<void> {
    this.open();
    this.jobs.set(job.jobId, encodeRecord('job', job));
  }

  async getJob(jobId: string): Promise<JobRecord | null> {
    this.open();
    const s = this.jobs.get(jobId);
    return s === undefined ? null : decodeRecord<JobRecord>('job', s, jobId);
  }

  async listJobs(): Promise<JobRecord[]> {
    this.open();
    return [...this.jobs].map(([id, s]) => decodeRecord<JobRecord>('job', s, id)).sort(byCreation);
  }

  async appendEvent(jobId: string, body: JobEventBody, timeMs: number): Promise<JobEvent> {
    this.open();
    const seq = (this.seqs.get(jobId) ?? 0) + 1;
    this.seqs.set(jobId, seq);
    const event: JobEvent = { seq, jobId, timeMs, body };
    const list = this.events.get(jobId) ?? [];
    list.push(encodeRecord('event', event));
    if (list.length > this.maxEvents) list.splice(0, list.length - this.maxEvents);
    this.events.set(jobId, list);
    return event;
  }

  async eventsAfter(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    this.open();
    return (this.events.get(jobId) ?? []).map((s) => decodeRecord<JobEvent>('event', s, `of job ${jobId}`)).filter((e) => e.seq > afterSeq);
  }

  async appendMetrics(jobId: string, summary: StepSummary): Promise<void> {
    this.open();
    this.metricLists.set(jobId, [...(this.metricLists.get(jobId) ?? []), encodeRecord('metrics', summary)]);
  }

  async metrics(jobId: string): Promise<StepSummary[]> {
    this.open();
    return (this.metricLists.get(jobId) ?? []).map((s) => decodeRecord<StepSummary>('metrics', s, `of job ${jobId}`));
  }

  /** Adds a rank's report under `key` unless it has one; returns the reports once all `worldSize` are in (and forgets them). */
  private collect(key: string, rank: number, worldSize: number, text: string): Map<number, string> | null {
    const reports = this.partial.get(key) ?? new Map<number, string>();
    if (reports.has(rank)) return null;
    reports.set(rank, text);
    this.partial.set(key, reports);
    if (reports.size !== worldSize) return null;
    this.partial.delete(key);
    return reports;
  }

  async recordRankStep(jobId: string, attempt: number, rank: number, worldSize: number, m: StepMetrics): Promise<StepMetrics[] | null> {
    this.open();
    const all = this.collect(`${jobId}\0${attempt}\0step\0${m.step}`, rank, worldSize, encodeRecord('rank-step', m));
    if (!all) return null;
    const out: StepMetrics[] = [];
    for (const [r, s] of all) out[r] = decodeRecord<StepMetrics>('rank-step', s, `of job ${jobId} rank ${r}`);
    return out;
  }

  async recordRankCheckpoint(jobId: string, attempt: number, rank: number, worldSize: number, step: number, path: string): Promise<boolean> {
    this.open();
    return this.collect(`${jobId}\0${attempt}\0ckpt\0${step}`, rank, worldSize, encodeRecord('rank-checkpoint', { path })) !== null;
  }

  async clearAttempt(jobId: string, attempt: number): Promise<void> {
    this.open();
    const prefix = `${jobId}\0${attempt}\0`;
    for (const k of [...this.partial.keys()]) if (k.startsWith(prefix)) this.partial.delete(k);
  }
}
