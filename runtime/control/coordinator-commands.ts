// The vocabulary between the coordinator's pure decisions and its effects: a Decision is a job's
// new record plus the commands (plain data) the Coordinator carries out in order: store writes, log
// lines, job events, RPCs to workers. `transition` is the one way a decision changes a job's state.
import type { ErrorCode } from '../../common/errors.ts';
import { JOB_TRANSITIONS, type JobRecord } from './job-state.ts';
import { assertTransition } from './state-machine.ts';
import { isTerminal, type JobEventBody, type JobState, type RankProcess, type StepMetrics, type StepSummary, type WorkerShare } from './types.ts';

export type Command =
  /** Write this snapshot of the job record to the store. */
  | { kind: 'persist-job'; job: JobRecord }
  | { kind: 'log'; line: string }
  /** Append a job event to the store and deliver it to watchers. */
  | { kind: 'emit'; jobId: string; body: JobEventBody }
  /** Every worker assigned to the job becomes free. */
  | { kind: 'release-workers'; jobId: string }
  /** Forget the attempt's partial step and checkpoint reports. */
  | { kind: 'clear-attempt'; jobId: string; attempt: number }
  /** Try to start waiting jobs on the free workers (after a state change that may free or need workers). */
  | { kind: 'schedule-rendezvous' }
  /** Ask each worker to end its executors of the attempt; each confirmation comes back as `workerStopped`. */
  | { kind: 'stop-executors'; jobId: string; attempt: number; workerIds: string[]; reason: string }
  /** Send each worker its share; the outcomes come back as `startResults`. */
  | { kind: 'start-executors'; jobId: string; attempt: number; shares: { workerId: string; share: WorkerShare }[] }
  /** Count one rank's step report in the store; when the step is complete, the metrics come back as `stepComplete`. */
  | { kind: 'record-step'; jobId: string; attempt: number; rank: number; worldSize: number; metrics: StepMetrics }
  /** Count one rank's checkpoint in the store; when every rank saved it, `checkpointComplete`. */
  | { kind: 'record-checkpoint'; jobId: string; attempt: number; rank: number; worldSize: number; step: number; path: string }
  | { kind: 'append-metrics'; jobId: string; summary: StepSummary };

/** A decision's result: the job as it is now, and what to do about it. */
export interface Decision {
  job: JobRecord;
  commands: Command[];
}

/** How one worker's `start` call ended (the start-executors command reports these). */
export type StartOutcome =
  | { workerId: string; host: string; ok: true; planSha256: string; processes: RankProcess[] }
  | { workerId: string; host: string; ok: false; code: ErrorCode; message: string; unreachable: boolean };

export function unchanged(job: JobRecord): Decision {
  return { job, commands: [] };
}

/** Runs `next` on the job `d` left, keeping both decisions' commands in order. */
export function andThen(d: Decision, next: (job: JobRecord) => Decision): Decision {
  const n = next(d.job);
  return { job: n.job, commands: [...d.commands, ...n.commands] };
}

/** Saves the job as it is (stamping the time). */
export function persist(job: JobRecord, nowMs: number): Decision {
  const next = { ...job, updatedAtMs: nowMs };
  return { job: next, commands: [{ kind: 'persist-job', job: next }] };
}

/**
 * Moves a job to `to` (throws IllegalTransition unless job-state.ts allows it): saves, logs and emits
 * the change; a terminal state also frees the workers, drops the attempt's partial reports, emits the
 * result and lets waiting jobs have the freed workers.
 */
export function transition(job: JobRecord, to: JobState, reason: string, nowMs: number): Decision {
  const from = job.state;
  assertTransition(JOB_TRANSITIONS, `job ${job.jobId}`, from, to, reason);
  const next: JobRecord = { ...job, state: to, stateSinceMs: nowMs, updatedAtMs: nowMs };
  const commands: Command[] = [
    { kind: 'persist-job', job: next },
    { kind: 'log', line: `job ${job.jobId}: ${from} -> ${to} (${reason})` },
    { kind: 'emit', jobId: job.jobId, body: { kind: 'state', from, to, reason } },
  ];
  if (isTerminal(to)) {
    commands.push(
      { kind: 'release-workers', jobId: job.jobId },
      { kind: 'clear-attempt', jobId: job.jobId, attempt: job.attempt },
      { kind: 'emit', jobId: job.jobId, body: { kind: 'result', state: to, failure: next.failure, lastStep: next.lastStep } },
      { kind: 'schedule-rendezvous' },
    );
  }
  return { job: next, commands };
}
