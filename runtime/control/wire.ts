// The one boundary between domain types (types.ts) and wire types (generated/uniap.ts, from
// protos/uniap.proto): `encodeX` builds the message for a domain value, `decodeX` checks a received
// message and returns the domain value. What converts: enums (domain names <-> proto value names),
// oneofs (a `kind`-tagged union <-> one set member), and absence (an unset proto3 `optional` field
// decodes as undefined and becomes null; null encodes as unset). Where a domain type already has the
// wire shape its encoder returns it as is, the compiler checking that it fits the message.
// Anything malformed from a peer becomes RpcError('invalid-argument').
import type { ErrorCode } from '../../common/errors.ts';
import type * as w from './generated/uniap.ts';
import { RpcError } from './transport.ts';
import type {
  CoordinatorStatus,
  DeviceInfo,
  ExecutorEvent,
  ExecutorEventBody,
  Failure,
  Heartbeat,
  HeartbeatResult,
  JobEvent,
  JobEventBody,
  JobState,
  JobStatus,
  JobSubmission,
  MemberState,
  RankAssignment,
  RankProcess,
  RegisterResult,
  Registration,
  StartResult,
  StepMetrics,
  StepSummary,
  SubmitResult,
  TrainingOptions,
  WorkerAgentState,
  WorkerShare,
  WorkerStatus,
} from './types.ts';

function bad(what: string): never {
  throw new RpcError('invalid-argument', `malformed message: ${what}`);
}

function need<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined) bad(`${what} is missing`);
  return v;
}

/** An unset `optional` field (undefined after decoding) is null in the domain. */
const opt = <T>(v: T | null | undefined): T | null => v ?? null;
/** Converts a value that may be absent; absent stays null. */
const optMap = <A, B>(v: A | null | undefined, f: (a: A) => B): B | null => (v === null || v === undefined ? null : f(v));

// ---------------------------------------------------------------- enums

const DEVICE_KINDS: Record<DeviceInfo['kind'], w.DeviceKind> = { cpu: 'DEVICE_KIND_CPU', gpu: 'DEVICE_KIND_GPU' };

const WORKER_STATES: Record<MemberState, w.WorkerState> = {
  connecting: 'WORKER_STATE_CONNECTING',
  idle: 'WORKER_STATE_IDLE',
  starting: 'WORKER_STATE_STARTING',
  running: 'WORKER_STATE_RUNNING',
  stopping: 'WORKER_STATE_STOPPING',
  'coordinator-lost': 'WORKER_STATE_COORDINATOR_LOST',
  exited: 'WORKER_STATE_EXITED',
  lost: 'WORKER_STATE_LOST',
};

const JOB_STATES: Record<JobState, w.JobState> = {
  waiting: 'JOB_STATE_WAITING',
  starting: 'JOB_STATE_STARTING',
  running: 'JOB_STATE_RUNNING',
  restarting: 'JOB_STATE_RESTARTING',
  stopping: 'JOB_STATE_STOPPING',
  succeeded: 'JOB_STATE_SUCCEEDED',
  failed: 'JOB_STATE_FAILED',
  stopped: 'JOB_STATE_STOPPED',
};

// Every ErrorCode, so a Failure's code survives the wire (the compiler checks the list is complete).
const ERROR_CODES = {
  CONFIG_INVALID: true,
  FILE_NOT_FOUND: true,
  UNKNOWN_PRESET: true,
  UNSUPPORTED: true,
  DEGREE_MISMATCH: true,
  PROFILE_MISSING: true,
  INFEASIBLE: true,
  SOLVER_FAILED: true,
  TOOL_MISSING: true,
  WORKER_LOST: true,
  UNAUTHENTICATED: true,
  RUNTIME_FAILED: true,
} satisfies Record<ErrorCode, true>;

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, s);
}

// The *_UNSPECIFIED zero values map to no domain value, so decoding one is refused.
function reverse<K extends string, V extends string>(m: Record<K, V>, v: V, what: string): K {
  for (const [k, mv] of Object.entries(m) as [K, V][]) if (mv === v) return k;
  return bad(`${what} "${v}" is not a known value`);
}

export const encodeJobState = (s: JobState): w.JobState => JOB_STATES[s];
export const decodeJobState = (s: w.JobState): JobState => reverse(JOB_STATES, s, 'job state');
const encodeMemberState = (s: MemberState): w.WorkerState => WORKER_STATES[s];
const decodeMemberState = (s: w.WorkerState): MemberState => reverse(WORKER_STATES, s, 'worker state');
function decodeAgentState(s: w.WorkerState): WorkerAgentState {
  const d = decodeMemberState(s);
  if (d === 'lost') bad('a worker cannot report itself lost');
  return d;
}

// ---------------------------------------------------------------- membership

export const encodeDevice = (d: DeviceInfo): w.Device => ({ ...d, kind: DEVICE_KINDS[d.kind] });
export function decodeDevice(d: w.Device): DeviceInfo {
  return { index: d.index, kind: reverse(DEVICE_KINDS, d.kind, 'device kind'), name: d.name, memoryBytes: opt(d.memoryBytes) };
}

export const encodeRegistration = (r: Registration): w.RegisterRequest => ({ ...r, devices: r.devices.map(encodeDevice) });
export function decodeRegistration(r: w.RegisterRequest): Registration {
  if (!r.host) bad('register: host is empty');
  if (!r.address) bad('register: address is empty');
  if (r.devices.length === 0) bad('register: a worker needs at least one device');
  if (r.nodeRank != null && r.nodeRank < 0) bad(`register: node rank must not be negative, got ${r.nodeRank}`);
  return {
    workerId: opt(r.workerId),
    host: r.host,
    address: r.address,
    devices: r.devices.map(decodeDevice),
    nodeRank: opt(r.nodeRank),
    pid: r.pid,
    version: r.version,
  };
}

export const encodeRegisterResult = (r: RegisterResult): w.RegisterReply => r;
export const decodeRegisterResult = (r: w.RegisterReply): RegisterResult => ({
  workerId: r.workerId,
  heartbeatIntervalMs: r.heartbeatIntervalMs,
  heartbeatTimeoutMs: r.heartbeatTimeoutMs,
});

const decodeRankProcess = (p: w.RankProcess): RankProcess => ({ rank: p.rank, pid: p.pid });

export const encodeHeartbeat = (h: Heartbeat): w.HeartbeatRequest => ({ ...h, state: encodeMemberState(h.state) });
export function decodeHeartbeat(h: w.HeartbeatRequest): Heartbeat {
  return {
    workerId: h.workerId,
    state: decodeAgentState(h.state),
    jobId: opt(h.jobId),
    attempt: h.attempt,
    planSha256: opt(h.planSha256),
    processes: h.processes.map(decodeRankProcess),
  };
}
export const encodeHeartbeatResult = (r: HeartbeatResult): w.HeartbeatReply => r;
export const decodeHeartbeatResult = (r: w.HeartbeatReply): HeartbeatResult => ({ known: r.known, stop: r.stop });

// ---------------------------------------------------------------- executor events

export const encodeStepMetrics = (m: StepMetrics): w.StepMetrics => m;
export function decodeStepMetrics(m: w.StepMetrics): StepMetrics {
  return {
    step: m.step,
    loss: opt(m.loss),
    timeMs: m.timeMs,
    computeMs: m.computeMs,
    exposedCommMs: m.exposedCommMs,
    memoryBytes: m.memoryBytes,
    samples: m.samples,
    tokens: m.tokens,
  };
}

export function encodeExecutorEvent(e: ExecutorEvent): w.ExecutorEvent {
  const head = { jobId: e.jobId, attempt: e.attempt, rank: e.rank, timeMs: e.timeMs };
  const b = e.body;
  switch (b.kind) {
    case 'ready':
      return { ...head, ready: { pid: b.pid, detailJson: b.detailJson } };
    case 'step':
      return { ...head, step: encodeStepMetrics(b.metrics) };
    case 'checkpoint':
      return { ...head, checkpoint: { step: b.step, path: b.path } };
    case 'done':
      return { ...head, done: {} };
    case 'error':
      return { ...head, error: { message: b.message } };
    case 'exit':
      return { ...head, exit: { code: b.code, signal: b.signal, pid: b.pid } };
    case 'log':
      return { ...head, log: { line: b.line } };
  }
}
function decodeExecutorEventBody(e: w.ExecutorEvent): ExecutorEventBody {
  switch (e.kind) {
    case 'ready': {
      const r = need(e.ready, 'ready');
      return { kind: 'ready', pid: r.pid, detailJson: r.detailJson };
    }
    case 'step':
      return { kind: 'step', metrics: decodeStepMetrics(need(e.step, 'step')) };
    case 'checkpoint': {
      const c = need(e.checkpoint, 'checkpoint');
      return { kind: 'checkpoint', step: c.step, path: c.path };
    }
    case 'done':
      return { kind: 'done' };
    case 'error':
      return { kind: 'error', message: need(e.error, 'error').message };
    case 'exit': {
      const x = need(e.exit, 'exit');
      return { kind: 'exit', code: opt(x.code), signal: opt(x.signal), pid: x.pid };
    }
    case 'log':
      return { kind: 'log', line: need(e.log, 'log').line };
    default:
      return bad('executor event has no kind');
  }
}
export function decodeExecutorEvent(e: w.ExecutorEvent): ExecutorEvent {
  return { jobId: e.jobId, attempt: e.attempt, rank: e.rank, timeMs: e.timeMs, body: decodeExecutorEventBody(e) };
}

export function encodeReportEvents(workerId: string, events: ExecutorEvent[]): w.ReportEventsRequest {
  return { workerId, events: events.map(encodeExecutorEvent) };
}
export function decodeReportEvents(r: w.ReportEventsRequest): { workerId: string; events: ExecutorEvent[] } {
  return { workerId: r.workerId, events: r.events.map(decodeExecutorEvent) };
}

// ---------------------------------------------------------------- jobs

export const encodeTrainingOptions = (o: TrainingOptions): w.TrainingOptions => o;
export function decodeTrainingOptions(o: w.TrainingOptions | null): TrainingOptions {
  const x = need(o, 'training options');
  if (x.steps < 1) bad(`steps must be at least 1, got ${x.steps}`);
  if (x.checkpointEvery < 0 || x.maxRestarts < 0) bad('checkpointEvery and maxRestarts must not be negative');
  if (!(x.lr > 0)) bad(`lr must be positive, got ${x.lr}`);
  if (x.rendezvousTimeoutMs != null && !(x.rendezvousTimeoutMs > 0)) bad(`rendezvousTimeoutMs must be positive when set, got ${x.rendezvousTimeoutMs}`);
  return {
    steps: x.steps,
    seed: x.seed,
    lr: x.lr,
    data: x.data || 'synthetic',
    checkpointDir: opt(x.checkpointDir),
    checkpointEvery: x.checkpointEvery,
    overlap: x.overlap,
    maxRestarts: x.maxRestarts,
    rendezvousTimeoutMs: opt(x.rendezvousTimeoutMs),
  };
}

export const encodeSubmission = (s: JobSubmission): w.SubmitJobRequest => s;
export function decodeSubmission(s: w.SubmitJobRequest): JobSubmission {
  if (!s.planJson) bad('submit: plan_json is empty');
  if (!s.modelJson) bad('submit: model_json is empty');
  return { jobId: opt(s.jobId), planJson: s.planJson, modelJson: s.modelJson, options: decodeTrainingOptions(s.options) };
}
export const encodeSubmitResult = (r: SubmitResult): w.SubmitJobReply => r;
export const decodeSubmitResult = (r: w.SubmitJobReply): SubmitResult => ({ jobId: r.jobId, planSha256: r.planSha256, worldSize: r.worldSize });

export const encodeFailure = (f: Failure | null): w.Failure | null => f;
export function decodeFailure(f: w.Failure | null): Failure | null {
  if (f === null) return null;
  if (!isErrorCode(f.code)) bad(`failure code "${f.code}" is not a uniap error code`);
  return { code: f.code, message: f.message, workerId: opt(f.workerId), rank: opt(f.rank) };
}

export const encodeRankAssignment = (r: RankAssignment): w.RankAssignment => r;
export function decodeRankAssignment(r: w.RankAssignment): RankAssignment {
  return { rank: r.rank, localRank: r.localRank, deviceIndex: r.deviceIndex, workerId: r.workerId, pid: opt(r.pid) };
}

export const encodeStepSummary = (s: StepSummary): w.StepSummary => s;
export function decodeStepSummary(s: w.StepSummary): StepSummary {
  return {
    step: s.step,
    loss: opt(s.loss),
    timePerIterationMs: s.timePerIterationMs,
    computeMs: s.computeMs,
    exposedCommMs: s.exposedCommMs,
    samplesPerSecond: s.samplesPerSecond,
    tokensPerSecond: s.tokensPerSecond,
    memoryBytesPerRank: [...s.memoryBytesPerRank],
  };
}

export const encodeJobStatus = (j: JobStatus): w.JobStatus => ({ ...j, state: encodeJobState(j.state) });
export function decodeJobStatus(j: w.JobStatus): JobStatus {
  return {
    jobId: j.jobId,
    state: decodeJobState(j.state),
    attempt: j.attempt,
    worldSize: j.worldSize,
    steps: j.steps,
    lastStep: opt(j.lastStep),
    lastCheckpointStep: opt(j.lastCheckpointStep),
    planSha256: j.planSha256,
    modelName: j.modelName,
    predictedTimePerIterationMs: opt(j.predictedTimePerIterationMs),
    ranks: j.ranks.map(decodeRankAssignment),
    failure: decodeFailure(j.failure),
    lastMetrics: optMap(j.lastMetrics, decodeStepSummary),
    restarts: j.restarts,
    masterAddr: opt(j.masterAddr),
    masterPort: opt(j.masterPort),
    createdAtMs: j.createdAtMs,
    updatedAtMs: j.updatedAtMs,
  };
}

export const encodeWorkerStatus = (s: WorkerStatus): w.WorkerStatus => ({ ...s, state: encodeMemberState(s.state), devices: s.devices.map(encodeDevice) });
export function decodeWorkerStatus(s: w.WorkerStatus): WorkerStatus {
  return {
    workerId: s.workerId,
    host: s.host,
    address: s.address,
    state: decodeMemberState(s.state),
    devices: s.devices.map(decodeDevice),
    lastHeartbeatAtMs: s.lastHeartbeatAtMs,
    jobId: opt(s.jobId),
    nodeRank: opt(s.nodeRank),
  };
}

export function encodeCoordinatorStatus(s: CoordinatorStatus): w.StatusReply {
  return { coordinatorId: s.coordinatorId, startedAtMs: s.startedAtMs, workers: s.workers.map(encodeWorkerStatus), jobs: s.jobs.map(encodeJobStatus) };
}
export function decodeCoordinatorStatus(s: w.StatusReply): CoordinatorStatus {
  return { coordinatorId: s.coordinatorId, startedAtMs: s.startedAtMs, workers: s.workers.map(decodeWorkerStatus), jobs: s.jobs.map(decodeJobStatus) };
}

export function encodeJobEvent(e: JobEvent): w.JobEvent {
  const head = { seq: e.seq, jobId: e.jobId, timeMs: e.timeMs };
  const b = e.body;
  switch (b.kind) {
    case 'state':
      return { ...head, state: { from: optMap(b.from, encodeJobState), to: encodeJobState(b.to), reason: b.reason } };
    case 'step':
      return { ...head, step: encodeStepSummary(b.summary) };
    case 'log':
      return { ...head, log: { rank: b.rank, workerId: b.workerId, line: b.line } };
    case 'checkpoint':
      return { ...head, checkpoint: { step: b.step, path: b.path } };
    case 'result':
      return { ...head, result: { state: encodeJobState(b.state), failure: encodeFailure(b.failure), lastStep: b.lastStep } };
  }
}
function decodeJobEventBody(e: w.JobEvent): JobEventBody {
  switch (e.kind) {
    case 'state': {
      const s = need(e.state, 'state');
      return { kind: 'state', from: optMap(s.from, decodeJobState), to: decodeJobState(s.to), reason: s.reason };
    }
    case 'step':
      return { kind: 'step', summary: decodeStepSummary(need(e.step, 'step')) };
    case 'log': {
      const l = need(e.log, 'log');
      return { kind: 'log', rank: l.rank, workerId: l.workerId, line: l.line };
    }
    case 'checkpoint': {
      const c = need(e.checkpoint, 'checkpoint');
      return { kind: 'checkpoint', step: c.step, path: c.path };
    }
    case 'result': {
      const r = need(e.result, 'result');
      return { kind: 'result', state: decodeJobState(r.state), failure: decodeFailure(r.failure), lastStep: opt(r.lastStep) };
    }
    default:
      return bad('job event has no kind');
  }
}
export function decodeJobEvent(e: w.JobEvent): JobEvent {
  return { seq: e.seq, jobId: e.jobId, timeMs: e.timeMs, body: decodeJobEventBody(e) };
}

// ---------------------------------------------------------------- worker service

export const encodeShare = (s: WorkerShare): w.StartRequest => s;
export function decodeShare(s: w.StartRequest): WorkerShare {
  if (s.backend !== 'gloo' && s.backend !== 'nccl') bad(`backend "${s.backend}" is not gloo or nccl`);
  if (!s.masterAddr || s.masterPort <= 0) bad('start: master address and port are required');
  if (s.ranks.length === 0) bad('start: no ranks for this worker');
  return {
    jobId: s.jobId,
    attempt: s.attempt,
    planJson: s.planJson,
    planSha256: s.planSha256,
    modelJson: s.modelJson,
    options: decodeTrainingOptions(s.options),
    resume: s.resume,
    worldSize: s.worldSize,
    masterAddr: s.masterAddr,
    masterPort: s.masterPort,
    backend: s.backend,
    ranks: s.ranks.map(decodeRankAssignment),
  };
}

export const encodeStartResult = (r: StartResult): w.StartReply => r;
export const decodeStartResult = (r: w.StartReply): StartResult => ({ planSha256: r.planSha256, processes: r.processes.map(decodeRankProcess) });
