// The job state machine: its legal transitions, and the job record the coordinator keeps in its store.
//
//   waiting ──(workers cover the plan's devices)──> starting ──(every rank ready)──> running ──> succeeded
//      │                                                │                               │
//      │                              failure with restarts left: restarting ──(executors gone)──> waiting
//      │                                                │                               │
//      └──────────── stop / failure: stopping ──(every executor gone or its worker lost)──> failed | stopped
//
// `stopping` and `restarting` wait until every executor of the attempt has ended (its worker says so)
// or its worker is declared lost, so "failed" means no process of the job is left.
import type { Failure, JobState, RankAssignment, StepSummary, TrainingOptions } from './types.ts';
import type { TransitionTable } from './state-machine.ts';

export const JOB_TRANSITIONS: TransitionTable<JobState> = {
  waiting: ['starting', 'stopping', 'failed', 'stopped'],
  starting: ['running', 'restarting', 'stopping', 'succeeded'],
  running: ['succeeded', 'restarting', 'stopping'],
  restarting: ['waiting', 'stopping'],
  stopping: ['failed', 'stopped'],
  succeeded: [],
  failed: [],
  stopped: [],
};

/** Everything the coordinator knows about a job; stored as versioned JSON by the job store (job-store.ts). */
export interface JobRecord {
  jobId: string;
  state: JobState;
  stateSinceMs: number;
  attempt: number;
  restarts: number;
  planJson: string;
  planSha256: string;
  modelJson: string;
  modelName: string;
  options: TrainingOptions;
  worldSize: number;
  globalBatch: number;
  predictedTimePerIterationMs: number | null;
  /** The current attempt's ranks (empty while waiting). */
  ranks: RankAssignment[];
  masterAddr: string | null;
  masterPort: number | null;
  backend: 'gloo' | 'nccl' | null;
  /** Ranks of the current attempt that reported `ready`, `done`, and whose process ended. */
  readyRanks: number[];
  doneRanks: number[];
  endedRanks: number[];
  /** Workers of the current attempt declared lost. */
  lostWorkers: string[];
  /** Error of each rank (its `{"event":"error"}`) and when its worker received it, for failure messages. */
  rankErrors: Record<string, { message: string; workerId: string; timeMs: number }>;
  /** While stopping/restarting: the terminal state to reach and why. */
  pending: { state: 'failed' | 'stopped'; failure: Failure | null } | null;
  failure: Failure | null;
  lastStep: number | null;
  lastCheckpointStep: number | null;
  lastCheckpointPath: string | null;
  lastMetrics: StepSummary | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export function workersOf(job: JobRecord): string[] {
  return [...new Set(job.ranks.map((r) => r.workerId))];
}

export function ranksOf(job: JobRecord, workerId: string): RankAssignment[] {
  return job.ranks.filter((r) => r.workerId === workerId);
}

/** Ranks still possibly running: neither ended nor on a lost worker. */
export function liveRanks(job: JobRecord): RankAssignment[] {
  return job.ranks.filter((r) => !job.endedRanks.includes(r.rank) && !job.lostWorkers.includes(r.workerId));
}
