// Domain types of the control plane: what the coordinator, the worker agents and the CLI talk about.
// Plain data; the wire shapes (generated from protos/uniap.proto) differ and are converted to and from
// these in runtime/control/wire.ts only. Units are in the names (Ms = milliseconds, Bytes = bytes);
// absent values are null, never 0 or "".
import type { ErrorCode } from '../../common/errors.ts';

export type DeviceKind = 'cpu' | 'gpu';

export interface DeviceInfo {
  /** CUDA device index, or CPU slot index. */
  index: number;
  kind: DeviceKind;
  name: string;
  /** null when unknown (CPU slots). */
  memoryBytes: number | null;
}

/** States of a worker agent (runtime/control/worker-agent.ts has the transition table). */
export type WorkerAgentState = 'connecting' | 'idle' | 'starting' | 'running' | 'stopping' | 'coordinator-lost' | 'exited';
/** The coordinator's view of a member: the state it last reported, or `lost` (heartbeats stopped). */
export type MemberState = WorkerAgentState | 'lost';

export interface Registration {
  /** Proposed id; null: the coordinator names the worker. */
  workerId: string | null;
  /** The address other hosts reach this host at (torch.distributed MASTER_ADDR when it runs rank 0). */
  host: string;
  /** host:port of the worker's Worker service. */
  address: string;
  devices: DeviceInfo[];
  /** Orders workers for rank assignment; null: registration order. */
  nodeRank: number | null;
  pid: number;
  version: string;
}

export interface RegisterResult {
  workerId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export interface RankProcess {
  rank: number;
  pid: number;
}

export interface Heartbeat {
  workerId: string;
  state: WorkerAgentState;
  /** The job whose executors this worker runs; null when idle. */
  jobId: string | null;
  attempt: number;
  /** sha256 (hex) of the plan file the executors read; null when idle. */
  planSha256: string | null;
  processes: RankProcess[];
}

export interface HeartbeatResult {
  /** false: the coordinator does not know the worker (lost or restarted with a fresh store); register again. */
  known: boolean;
  /** true: the job the worker reported is over; end its executors. */
  stop: boolean;
}

// ---------------------------------------------------------------- executor output

/** One `{"event":"step",...}` line of an executor. */
export interface StepMetrics {
  step: number;
  /** null on ranks that do not compute the loss (e.g. pipeline stages before the last). */
  loss: number | null;
  timeMs: number;
  computeMs: number;
  exposedCommMs: number;
  memoryBytes: number;
  samples: number;
  tokens: number;
}

export type ExecutorEventBody =
  | { kind: 'ready'; pid: number; detailJson: string }
  | { kind: 'step'; metrics: StepMetrics }
  | { kind: 'checkpoint'; step: number; path: string }
  | { kind: 'done' }
  | { kind: 'error'; message: string }
  /** The process ended: `code` null when a signal ended it. */
  | { kind: 'exit'; code: number | null; signal: string | null; pid: number }
  | { kind: 'log'; line: string };

export interface ExecutorEvent {
  jobId: string;
  attempt: number;
  rank: number;
  timeMs: number;
  body: ExecutorEventBody;
}

// ---------------------------------------------------------------- jobs

/** Training options of a job; mirrors the executor's flags (runtime/control/executor-process.ts). */
export interface TrainingOptions {
  steps: number;
  seed: number;
  lr: number;
  /** "synthetic" or a path readable on every worker host. */
  data: string;
  /** Shared by every worker host (one machine, or a shared file system); null: no checkpoints. */
  checkpointDir: string | null;
  /** Save every K steps; 0: never. */
  checkpointEvery: number;
  /** Overlap communication with compute (the executor's default); false passes --no-overlap. */
  overlap: boolean;
  /** Restarts from the last checkpoint after a failure; 0: a failure ends the job. */
  maxRestarts: number;
  /** Give up when the plan's devices have not registered in time; null: wait forever. */
  rendezvousTimeoutMs: number | null;
}

export const DEFAULT_TRAINING_OPTIONS: TrainingOptions = {
  steps: 10,
  seed: 1234,
  lr: 1e-3,
  data: 'synthetic',
  checkpointDir: null,
  checkpointEvery: 0,
  overlap: true,
  maxRestarts: 0,
  rendezvousTimeoutMs: null,
};

export interface JobSubmission {
  /** null: the coordinator names the job. */
  jobId: string | null;
  /** The plan file's text, verbatim: its sha256 is the plan's identity. */
  planJson: string;
  /** The resolved ModelSpec as JSON. */
  modelJson: string;
  options: TrainingOptions;
}

export interface SubmitResult {
  jobId: string;
  planSha256: string;
  worldSize: number;
}

/** States of a job (runtime/control/job-state.ts has the transition table). */
export type JobState = 'waiting' | 'starting' | 'running' | 'restarting' | 'stopping' | 'succeeded' | 'failed' | 'stopped';
export const TERMINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'stopped'];
export function isTerminal(s: JobState): boolean {
  return TERMINAL_JOB_STATES.includes(s);
}

export interface Failure {
  code: ErrorCode;
  /** One line naming the problem (the worker, the rank) and the remedy. */
  message: string;
  workerId: string | null;
  rank: number | null;
}

export interface RankAssignment {
  rank: number;
  /** Index among the ranks of its worker (LOCAL_RANK). */
  localRank: number;
  deviceIndex: number;
  workerId: string;
  /** The executor's pid once it runs; null before. */
  pid: number | null;
}

/** One iteration over all ranks. */
export interface StepSummary {
  step: number;
  /** Mean over the ranks that report a loss; null when none does. */
  loss: number | null;
  /** Slowest rank: an iteration ends when every rank is done. */
  timePerIterationMs: number;
  computeMs: number;
  /** Largest exposed (not overlapped) communication time over ranks. */
  exposedCommMs: number;
  samplesPerSecond: number;
  tokensPerSecond: number;
  /** Peak memory of each rank (index = rank). */
  memoryBytesPerRank: number[];
}

export interface JobStatus {
  jobId: string;
  state: JobState;
  /** 0 for the first run; +1 per restart. */
  attempt: number;
  worldSize: number;
  steps: number;
  lastStep: number | null;
  lastCheckpointStep: number | null;
  planSha256: string;
  modelName: string;
  predictedTimePerIterationMs: number | null;
  ranks: RankAssignment[];
  failure: Failure | null;
  lastMetrics: StepSummary | null;
  restarts: number;
  masterAddr: string | null;
  masterPort: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface WorkerStatus {
  workerId: string;
  host: string;
  address: string;
  state: MemberState;
  devices: DeviceInfo[];
  lastHeartbeatAtMs: number;
  jobId: string | null;
  nodeRank: number | null;
}

export interface CoordinatorStatus {
  coordinatorId: string;
  startedAtMs: number;
  workers: WorkerStatus[];
  jobs: JobStatus[];
}

export type JobEventBody =
  | { kind: 'state'; from: JobState | null; to: JobState; reason: string }
  | { kind: 'step'; summary: StepSummary }
  | { kind: 'log'; rank: number; workerId: string; line: string }
  | { kind: 'checkpoint'; step: number; path: string }
  | { kind: 'result'; state: JobState; failure: Failure | null; lastStep: number | null };

export interface JobEvent {
  /** 1, 2, 3, ... per job; a watcher resumes after the last seq it saw. */
  seq: number;
  jobId: string;
  timeMs: number;
  body: JobEventBody;
}

// ---------------------------------------------------------------- worker service

/** Everything a worker needs to run its ranks of one attempt of a job. */
export interface WorkerShare {
  jobId: string;
  attempt: number;
  planJson: string;
  planSha256: string;
  modelJson: string;
  options: TrainingOptions;
  /** Pass --resume: continue from the last checkpoint in options.checkpointDir. */
  resume: boolean;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  /** This worker's ranks only. */
  ranks: RankAssignment[];
}

export interface StartResult {
  /** sha256 of the plan file as written for the executors (the coordinator compares it with its own). */
  planSha256: string;
  processes: RankProcess[];
}
