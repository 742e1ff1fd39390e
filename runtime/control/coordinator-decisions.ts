// The coordinator's job decisions, pure: (job, event) -> Decision. Covers failures and the restart
// policy, stop requests, stopping to the end, lost workers and executor events. No I/O: the Coordinator
// (coordinator.ts) carries out the returned commands. Rendezvous lives in rendezvous.ts, blame in blame.ts.
import { exitFailure, blameRankError, lostWorkerFailure, mergeLostWorker } from './blame.ts';
import { andThen, persist, transition, unchanged, type Decision } from './coordinator-commands.ts';
import { liveRanks, ranksOf, workersOf, type JobRecord } from './job-state.ts';
import type { WorkerRecord } from './job-store.ts';
import { summarizeStep } from './metrics.ts';
import { isTerminal, type ExecutorEvent, type Failure, type StepMetrics } from './types.ts';

/**
 * After a failure of a running attempt: restart while the job's restart budget (`maxRestarts`, 0 unless
 * --restart-on-failure) is not used up, from the last complete checkpoint or, before the first one,
 * from the beginning; else fail the job.
 */
export type RestartVerdict = { action: 'restart'; restart: number; of: number; fromStep: number | null } | { action: 'fail' };

export function restartPolicy(job: Pick<JobRecord, 'restarts' | 'options' | 'lastCheckpointStep'>): RestartVerdict {
  if (job.restarts >= job.options.maxRestarts) return { action: 'fail' };
  return { action: 'restart', restart: job.restarts + 1, of: job.options.maxRestarts, fromStep: job.lastCheckpointStep };
}

/**
 * A failure of the current attempt: restart or stop (restartPolicy), then end every executor. While the
 * job is already stopping, a lost worker replaces an earlier executor error as the cause.
 */
export function onFailure(job: JobRecord, failure: Failure, nowMs: number): Decision {
  if (isTerminal(job.state) || job.state === 'waiting') return unchanged(job);
  if (job.state === 'stopping' || job.state === 'restarting') {
    const merged = mergeLostWorker(job.pending, failure);
    const next = merged ? { ...job, pending: { state: 'failed' as const, failure: merged }, failure: merged } : job;
    return andThen(persist(next, nowMs), (j) => settle(j, nowMs));
  }
  const next: JobRecord = { ...job, failure, pending: { state: 'failed', failure } };
  const verdict = restartPolicy(next);
  const moved =
    verdict.action === 'restart'
      ? transition(next, 'restarting', `${failure.message}; restart ${verdict.restart} of ${verdict.of} from ${verdict.fromStep === null ? 'the beginning (no checkpoint yet)' : `the checkpoint of step ${verdict.fromStep}`}`, nowMs)
      : transition(next, 'stopping', failure.message, nowMs);
  return andThen(moved, (j) => stopExecutors(j, failure.message, nowMs));
}

/** Asks every worker of the attempt not yet lost to end its executors, then settles. */
export function stopExecutors(job: JobRecord, reason: string, nowMs: number): Decision {
  const workerIds = workersOf(job).filter((w) => !job.lostWorkers.includes(w));
  return andThen({ job, commands: [{ kind: 'stop-executors', jobId: job.jobId, attempt: job.attempt, workerIds, reason }] }, (j) => settle(j, nowMs));
}

/**
 * stopping/restarting end once no executor of the attempt can still run: stopping reaches its pending
 * terminal state; restarting becomes a fresh attempt that waits for workers (whichever are alive).
 */
export function settle(job: JobRecord, nowMs: number): Decision {
  if (job.state !== 'stopping' && job.state !== 'restarting') return unchanged(job);
  if (liveRanks(job).length > 0) return unchanged(job);
  if (job.state === 'stopping') {
    const target = job.pending?.state ?? 'failed';
    const next = target === 'stopped' ? { ...job, failure: null } : job;
    return transition(next, target, target === 'failed' ? (next.failure?.message ?? 'failed') : 'every executor ended', nowMs);
  }
  const next: JobRecord = { ...job, attempt: job.attempt + 1, restarts: job.restarts + 1, ranks: [], masterAddr: null, masterPort: null, pending: null };
  const waiting = transition(next, 'waiting', `attempt ${next.attempt}: waiting for workers with ${next.worldSize} devices`, nowMs);
  return {
    job: waiting.job,
    commands: [{ kind: 'clear-attempt', jobId: job.jobId, attempt: job.attempt }, { kind: 'release-workers', jobId: job.jobId }, ...waiting.commands, { kind: 'schedule-rendezvous' }],
  };
}

/** A stop request: a waiting job stops at once; a running one stops every executor first. */
export function onStopRequest(job: JobRecord, reason: string, nowMs: number): Decision {
  if (isTerminal(job.state)) return unchanged(job);
  const why = reason || 'stop requested';
  if (job.state === 'waiting') return transition(job, 'stopped', why, nowMs);
  if (job.state === 'stopping') return persist(job.pending ? { ...job, pending: { state: 'stopped', failure: null } } : job, nowMs);
  const next: JobRecord = { ...job, pending: { state: 'stopped', failure: null } };
  return andThen(transition(next, 'stopping', why, nowMs), (j) => stopExecutors(j, why, nowMs));
}

/** A worker confirmed that its executors of `attempt` ended. */
export function workerStopped(job: JobRecord, workerId: string, attempt: number, nowMs: number): Decision {
  if (job.attempt !== attempt) return unchanged(job);
  const endedRanks = [...job.endedRanks];
  for (const r of ranksOf(job, workerId)) if (!endedRanks.includes(r.rank)) endedRanks.push(r.rank);
  return andThen(persist({ ...job, endedRanks }, nowMs), (j) => settle(j, nowMs));
}

/** A member of the job was declared lost (`why` says how): it is blamed, and the attempt fails. */
export function onWorkerLost(job: JobRecord, w: Pick<WorkerRecord, 'workerId' | 'host'>, why: string, nowMs: number): Decision {
  if (isTerminal(job.state) || job.state === 'waiting') return unchanged(job);
  if (!workersOf(job).includes(w.workerId) || job.lostWorkers.includes(w.workerId)) return unchanged(job);
  const next: JobRecord = { ...job, lostWorkers: [...job.lostWorkers, w.workerId] };
  return onFailure(next, lostWorkerFailure(next, w, why), nowMs);
}

const addRank = (ranks: number[], rank: number): number[] => (ranks.includes(rank) ? ranks : [...ranks, rank]);

/** One executor event of the current attempt, from the worker that runs the rank; anything else is ignored. */
export function onExecutorEvent(job: JobRecord, workerId: string, e: ExecutorEvent, nowMs: number): Decision {
  if (isTerminal(job.state) || e.attempt !== job.attempt) return unchanged(job);
  const assignment = job.ranks.find((r) => r.rank === e.rank);
  if (!assignment || assignment.workerId !== workerId) return unchanged(job);
  const b = e.body;
  switch (b.kind) {
    case 'ready': {
      const next = { ...job, ranks: job.ranks.map((r) => (r.rank === e.rank ? { ...r, pid: b.pid } : r)), readyRanks: addRank(job.readyRanks, e.rank) };
      return andThen(persist(next, nowMs), (j) => (j.state === 'starting' && j.readyRanks.length === j.worldSize ? transition(j, 'running', `all ${j.worldSize} ranks ready`, nowMs) : unchanged(j)));
    }
    case 'step': {
      const started = job.state === 'starting' ? transition(job, 'running', `rank ${e.rank} reported step ${b.metrics.step}`, nowMs) : unchanged(job);
      return andThen(started, (j) => ({ job: j, commands: [{ kind: 'record-step', jobId: j.jobId, attempt: j.attempt, rank: e.rank, worldSize: j.worldSize, metrics: b.metrics }] }));
    }
    case 'checkpoint':
      return { job, commands: [{ kind: 'record-checkpoint', jobId: job.jobId, attempt: job.attempt, rank: e.rank, worldSize: job.worldSize, step: b.step, path: b.path }] };
    case 'log':
      return { job, commands: [{ kind: 'emit', jobId: job.jobId, body: { kind: 'log', rank: e.rank, workerId, line: b.line } }] };
    case 'error': {
      const saved = persist(blameRankError(job, e.rank, workerId, b.message, e.timeMs), nowMs);
      return { job: saved.job, commands: [...saved.commands, { kind: 'emit', jobId: job.jobId, body: { kind: 'log', rank: e.rank, workerId, line: `error: ${b.message}` } }] };
    }
    case 'done':
      return persist({ ...job, doneRanks: addRank(job.doneRanks, e.rank) }, nowMs);
    case 'exit':
      return andThen(persist({ ...job, endedRanks: addRank(job.endedRanks, e.rank) }, nowMs), (j) => {
        if (j.state !== 'starting' && j.state !== 'running') return settle(j, nowMs);
        if (b.code !== 0) return onFailure(j, exitFailure(j, e.rank, workerId, b.code, b.signal, b.pid), nowMs);
        if (j.endedRanks.length !== j.worldSize) return unchanged(j);
        return transition({ ...j, failure: null }, 'succeeded', `all ${j.worldSize} ranks finished ${j.options.steps} steps`, nowMs);
      });
  }
}

/** Every rank reported the step (`all[r]` = rank r's metrics): one summary is kept, stored and emitted. */
export function stepComplete(job: JobRecord, all: StepMetrics[], nowMs: number): Decision {
  const summary = summarizeStep(all, job.globalBatch);
  const saved = persist({ ...job, lastStep: Math.max(job.lastStep ?? -1, summary.step), lastMetrics: summary }, nowMs);
  return { job: saved.job, commands: [...saved.commands, { kind: 'append-metrics', jobId: job.jobId, summary }, { kind: 'emit', jobId: job.jobId, body: { kind: 'step', summary } }] };
}

/** Every rank saved the checkpoint of `step`: a restart resumes from it. */
export function checkpointComplete(job: JobRecord, step: number, path: string, nowMs: number): Decision {
  const saved = persist({ ...job, lastCheckpointStep: Math.max(job.lastCheckpointStep ?? -1, step), lastCheckpointPath: path }, nowMs);
  return { job: saved.job, commands: [...saved.commands, { kind: 'emit', jobId: job.jobId, body: { kind: 'checkpoint', step, path } }] };
}

/** A job submitted with a parsed plan: its first record, waiting for workers. */
export function submitted(
  s: { jobId: string; planJson: string; planSha256: string; modelJson: string; modelName: string; options: JobRecord['options'] },
  plan: { worldSize: number; globalBatch: number; predictedTimePerIterationMs: number | null },
  nowMs: number,
): Decision {
  const job: JobRecord = {
    jobId: s.jobId,
    state: 'waiting',
    stateSinceMs: nowMs,
    attempt: 0,
    restarts: 0,
    planJson: s.planJson,
    planSha256: s.planSha256,
    modelJson: s.modelJson,
    modelName: s.modelName,
    options: s.options,
    worldSize: plan.worldSize,
    globalBatch: plan.globalBatch,
    predictedTimePerIterationMs: plan.predictedTimePerIterationMs,
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
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
  return {
    job,
    commands: [
      { kind: 'persist-job', job },
      { kind: 'log', line: `job ${job.jobId}: submitted (${job.modelName}, ${job.worldSize} ranks, ${job.options.steps} steps, plan sha256 ${job.planSha256.slice(0, 12)}...)` },
      { kind: 'emit', jobId: job.jobId, body: { kind: 'state', from: null, to: 'waiting', reason: `waiting for workers with ${job.worldSize} devices` } },
      { kind: 'schedule-rendezvous' },
    ],
  };
}
