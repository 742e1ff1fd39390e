// Rendezvous as pure decisions: when the free workers cover a waiting job's devices, which workers
// take part, which rank runs where (node order, then device index, contiguous per worker), who is
// master, what each worker is sent, what the start outcomes mean, and when waiting has lasted too long.
import { ranksOf, type JobRecord } from './job-state.ts';
import type { WorkerRecord } from './job-store.ts';
import { andThen, persist, transition, unchanged, type Decision, type StartOutcome } from './coordinator-commands.ts';
import { planMismatchFailure } from './blame.ts';
import { onFailure } from './coordinator-decisions.ts';
import type { DeviceInfo, Failure, RankAssignment, WorkerShare } from './types.ts';

/** Idle members not assigned to a job, in rank order: --node-rank first, then registration order, then id. */
export function freeWorkersInRankOrder(workers: Iterable<WorkerRecord>): WorkerRecord[] {
  return [...workers]
    .filter((w) => w.jobId === null && w.state === 'idle')
    .sort((a, b) => (a.nodeRank ?? Infinity) - (b.nodeRank ?? Infinity) || a.registeredAtMs - b.registeredAtMs || a.workerId.localeCompare(b.workerId));
}

/** The outcome of a complete rendezvous: who takes part with which devices, the ranks, and the master. */
export interface Rendezvous {
  chosen: { workerId: string; host: string; devices: DeviceInfo[] }[];
  ranks: RankAssignment[];
  /** The worker running rank 0: its host is MASTER_ADDR, it reserves MASTER_PORT. */
  master: { workerId: string; host: string };
  /** NCCL when every chosen device is a GPU, else gloo. */
  backend: 'gloo' | 'nccl';
}

/**
 * The devices each worker contributes, workers taken in the given order until `worldSize` devices are
 * covered: each worker's devices by index, the last worker giving only the devices still needed.
 */
export function assignRanks(workers: { workerId: string; devices: DeviceInfo[] }[], worldSize: number): { workerId: string; devices: DeviceInfo[] }[] {
  const out: { workerId: string; devices: DeviceInfo[] }[] = [];
  let have = 0;
  for (const w of workers) {
    if (have >= worldSize) break;
    const devices = [...w.devices].sort((a, b) => a.index - b.index).slice(0, worldSize - have);
    out.push({ workerId: w.workerId, devices });
    have += devices.length;
  }
  return out;
}

/** The rendezvous of a job needing `worldSize` devices over the free workers (in rank order), or null until they suffice. */
export function planRendezvous(worldSize: number, freeInRankOrder: WorkerRecord[]): Rendezvous | null {
  const picked = assignRanks(freeInRankOrder, worldSize);
  if (picked.reduce((s, p) => s + p.devices.length, 0) < worldSize || picked.length === 0) return null;
  const byId = new Map(freeInRankOrder.map((w) => [w.workerId, w]));
  const chosen = picked.map((p) => ({ workerId: p.workerId, host: byId.get(p.workerId)!.host, devices: p.devices }));
  const ranks: RankAssignment[] = [];
  for (const { workerId, devices } of chosen) {
    devices.forEach((d, localRank) => ranks.push({ rank: ranks.length, localRank, deviceIndex: d.index, workerId, pid: null }));
  }
  const backend = chosen.every(({ devices }) => devices.every((d) => d.kind === 'gpu')) ? 'nccl' : 'gloo';
  return { chosen, ranks, master: { workerId: chosen[0]!.workerId, host: chosen[0]!.host }, backend };
}

/**
 * A waiting job starts its attempt on a complete rendezvous once the master reserved its port: the
 * attempt's bookkeeping starts afresh, the job moves to `starting`, and every worker is sent its share
 * (resuming from the last checkpoint on a restart that has one).
 */
export function startAttempt(job: JobRecord, r: Rendezvous, masterPort: number, nowMs: number): Decision {
  if (job.state !== 'waiting') return unchanged(job);
  const next: JobRecord = {
    ...job,
    ranks: r.ranks.map((a) => ({ ...a })),
    masterAddr: r.master.host,
    masterPort,
    backend: r.backend,
    readyRanks: [],
    doneRanks: [],
    endedRanks: [],
    lostWorkers: [],
    rankErrors: {},
    pending: null,
  };
  const resume = next.attempt > 0 && next.lastCheckpointStep !== null;
  const reason = `${next.worldSize} ranks on ${r.chosen.map((c) => `${c.workerId} (${c.devices.length})`).join(', ')}; master ${r.master.host}:${masterPort}, ${r.backend}${resume ? `, resuming from step ${next.lastCheckpointStep}` : ''}`;
  return andThen(transition(next, 'starting', reason, nowMs), (j) => ({
    job: j,
    commands: [
      {
        kind: 'start-executors',
        jobId: j.jobId,
        attempt: j.attempt,
        shares: r.chosen.map((c) => {
          const share: WorkerShare = {
            jobId: j.jobId,
            attempt: j.attempt,
            planJson: j.planJson,
            planSha256: j.planSha256,
            modelJson: j.modelJson,
            options: j.options,
            resume,
            worldSize: j.worldSize,
            masterAddr: r.master.host,
            masterPort,
            backend: r.backend,
            ranks: ranksOf(j, c.workerId).map((a) => ({ ...a })),
          };
          return { workerId: c.workerId, share };
        }),
      },
    ],
  }));
}

/**
 * What the workers' answers to `start` mean: pids are recorded; the first worker that could not start
 * (or wrote another plan) fails the attempt. An unreachable worker has no executors of this attempt.
 */
export function startResults(job: JobRecord, outcomes: StartOutcome[], nowMs: number): Decision {
  if (job.state !== 'starting') return unchanged(job);
  let failure: Failure | null = null;
  const endedRanks = [...job.endedRanks];
  const ranks = job.ranks.map((a) => ({ ...a }));
  for (const o of outcomes) {
    if (!o.ok) {
      failure ??= { code: o.code, message: `worker ${o.workerId} (${o.host}) could not start its executors: ${o.message}`, workerId: o.workerId, rank: null };
      if (o.unreachable) for (const a of ranksOf(job, o.workerId)) if (!endedRanks.includes(a.rank)) endedRanks.push(a.rank);
      continue;
    }
    if (o.planSha256 !== job.planSha256) failure ??= planMismatchFailure(job, o.workerId, o.planSha256, ` (${o.host}) wrote`);
    for (const p of o.processes) {
      const a = ranks.find((x) => x.rank === p.rank);
      if (a) a.pid = p.pid;
    }
  }
  const saved = persist({ ...job, ranks, endedRanks }, nowMs);
  const f = failure;
  return f ? andThen(saved, (j) => onFailure(j, f, nowMs)) : saved;
}

/** Whether a waiting job has waited longer than its rendezvous timeout at `nowMs`. */
export function rendezvousExpired(job: JobRecord, nowMs: number): boolean {
  const limit = job.options.rendezvousTimeoutMs;
  return job.state === 'waiting' && limit !== null && nowMs - job.stateSinceMs > limit;
}

/** A waiting job whose rendezvous timeout passed fails, saying how many devices came and what to do. */
export function rendezvousTimeout(job: JobRecord, nowMs: number, freeDevices: number): Decision {
  const limit = job.options.rendezvousTimeoutMs;
  if (limit === null || !rendezvousExpired(job, nowMs)) return unchanged(job);
  const failure: Failure = {
    code: 'WORKER_LOST',
    message: `the plan needs ${job.worldSize} devices; after ${limit} ms workers with ${freeDevices} free device(s) had registered; start more workers (uniap worker --coordinator HOST:PORT) or raise the rendezvous timeout`,
    workerId: null,
    rank: null,
  };
  return transition({ ...job, failure }, 'failed', failure.message, nowMs);
}
