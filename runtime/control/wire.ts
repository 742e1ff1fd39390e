// The one boundary between domain types (types.ts) and wire types (generated/uniap.ts, from
// protos/uniap.proto): `encodeX` builds the message for a domain value, `decodeX` checks a received
// message and returns the domain value. Proto3 has no null: absent numbers travel as -1 or 0 and
// absent strings as "" (each field's proto comment says which); enums travel as their names.
// Anything malformed from a peer becomes RpcError('invalid-argument').
import type { ErrorCode } from '../../configs/errors.ts';
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

const orNull = (s: string): string | null => (s === '' ? null : s);
const orEmpty = (s: string | null): string => s ?? '';
const negToNull = (n: number): number | null => (n < 0 ? null : n);
const nullToNeg = (n: number | null): number => n ?? -1;
const zeroToNull = (n: number): number | null => (n === 0 ? null : n);

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

export function encodeDevice(d: DeviceInfo): w.Device {
  return { index: d.index, kind: DEVICE_KINDS[d.kind], name: d.name, memoryBytes: d.memoryBytes ?? 0 };
}
export function decodeDevice(d: w.Device): DeviceInfo {
  return { index: d.index, kind: reverse(DEVICE_KINDS, d.kind, 'device kind'), name: d.name, memoryBytes: zeroToNull(d.memoryBytes) };
}

export function encodeRegistration(r: Registration): w.RegisterRequest {
  return {
    workerId: orEmpty(r.workerId),
    host: r.host,
    address: r.address,
    devices: r.devices.map(encodeDevice),
    nodeRank: nullToNeg(r.nodeRank),
    pid: r.pid,
    version: r.version,
  };
}
export function decodeRegistration(r: w.RegisterRequest): Registration {
  if (!r.host) bad('register: host is empty');
  if (!r.address) bad('register: address is empty');
  if (r.devices.length === 0) bad('register: a worker needs at least one device');
  return {
    workerId: orNull(r.workerId),
    host: r.host,
    address: r.address,
    devices: r.devices.map(decodeDevice),
    nodeRank: negToNull(r.nodeRank),
    pid: r.pid,
    version: r.version,
  };
}

export const encodeRegisterResult = (r: RegisterResult): w.RegisterReply => ({ ...r });
export const decodeRegisterResult = (r: w.RegisterReply): RegisterResult => ({
  workerId: r.workerId,
  heartbeatIntervalMs: r.heartbeatIntervalMs,
  heartbeatTimeoutMs: r.heartbeatTimeoutMs,
});

const encodeRankProcess = (p: RankProcess): w.RankProcess => ({ rank: p.rank, pid: p.pid });
const decodeRankProcess = (p: w.RankProcess): RankProcess => ({ rank: p.rank, pid: p.pid });

export function encodeHeartbeat(h: Heartbeat): w.HeartbeatRequest {
  return {
    workerId: h.workerId,
    state: encodeMemberState(h.state),
    jobId: orEmpty(h.jobId),
    attempt: h.attempt,
    planSha256: orEmpty(h.planSha256),
    processes: h.processes.map(encodeRankProcess),
  };
}
export function decodeHeartbeat(h: w.HeartbeatRequest): Heartbeat {
  return {
    workerId: h.workerId,
    state: decodeAgentState(h.state),
    jobId: orNull(h.jobId),
    attempt: h.attempt,
    planSha256: orNull(h.planSha256),
    processes: h.processes.map(decodeRankProcess),
  };
}
export const encodeHeartbeatResult = (r: HeartbeatResult): w.HeartbeatReply => ({ known: r.known, stop: r.stop });
export const decodeHeartbeatResult = (r: w.HeartbeatReply): HeartbeatResult => ({ known: r.known, stop: r.stop });

// ---------------------------------------------------------------- executor events

export function encodeStepMetrics(m: StepMetrics): w.StepMetrics {
  return {
    step: m.step,
    hasLoss: m.loss !== null,
    loss: m.loss ?? 0,
    timeMs: m.timeMs,
    computeMs: m.computeMs,
    exposedCommMs: m.exposedCommMs,
    memoryBytes: m.memoryBytes,
    samples: m.samples,
    tokens: m.tokens,
  };
}
export function decodeStepMetrics(m: w.StepMetrics): StepMetrics {
  return {
    step: m.step,
    loss: m.hasLoss ? m.loss : null,
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
      return { ...head, exit: { code: b.code ?? -1, signal: b.signal ?? '', pid: b.pid } };
    case 'log':
      return { ...head, log: { line: b.line } };
  }
}
export function decodeExecutorEvent(e: w.ExecutorEvent): ExecutorEvent {
  let body: ExecutorEventBody;
  switch (e.kind) {
    case 'ready':
      body = { kind: 'ready', pid: need(e.ready, 'ready').pid, detailJson: need(e.ready, 'ready').detailJson };
      break;
    case 'step':
      body = { kind: 'step', metrics: decodeStepMetrics(need(e.step, 'step')) };
      break;
    case 'checkpoint':
      body = { kind: 'checkpoint', step: need(e.checkpoint, 'checkpoint').step, path: need(e.checkpoint, 'checkpoint').path };
      break;
    case 'done':
      body = { kind: 'done' };
      break;
    case 'error':
      body = { kind: 'error', message: need(e.error, 'error').message };
      break;
    case 'exit': {
      const x = need(e.exit, 'exit');
      body = { kind: 'exit', code: x.signal ? null : x.code, signal: orNull(x.signal), pid: x.pid };
      break;
    }
    case 'log':
      body = { kind: 'log', line: need(e.log, 'log').line };
      break;
    default:
      return bad('executor event has no kind');
  }
  return { jobId: e.jobId, attempt: e.attempt, rank: e.rank, timeMs: e.timeMs, body };
}

export function encodeReportEvents(workerId: string, events: ExecutorEvent[]): w.ReportEventsRequest {
  return { workerId, events: events.map(encodeExecutorEvent) };
}
export function decodeReportEvents(r: w.ReportEventsRequest): { workerId: string; events: ExecutorEvent[] } {
  return { workerId: r.workerId, events: r.events.map(decodeExecutorEvent) };
}

// ---------------------------------------------------------------- jobs

export function encodeTrainingOptions(o: TrainingOptions): w.TrainingOptions {
  return {
    steps: o.steps,
    seed: o.seed,
    lr: o.lr,
    data: o.data,
    checkpointDir: orEmpty(o.checkpointDir),
    checkpointEvery: o.checkpointEvery,
    overlap: o.overlap,
    maxRestarts: o.maxRestarts,
    rendezvousTimeoutMs: o.rendezvousTimeoutMs ?? 0,
  };
}
export function decodeTrainingOptions(o: w.TrainingOptions | null): TrainingOptions {
  const x = need(o, 'training options');
  if (x.steps < 1) bad(`steps must be at least 1, got ${x.steps}`);
  if (x.checkpointEvery < 0 || x.maxRestarts < 0) bad('checkpointEvery and maxRestarts must not be negative');
  if (!(x.lr > 0)) bad(`lr must be positive, got ${x.lr}`);
  return {
    steps: x.steps,
    seed: x.seed,
    lr: x.lr,
    data: x.data || 'synthetic',
    checkpointDir: orNull(x.checkpointDir),
    checkpointEvery: x.checkpointEvery,
    overlap: x.overlap,
    maxRestarts: x.maxRestarts,
    rendezvousTimeoutMs: zeroToNull(x.rendezvousTimeoutMs),
  };
}

export function encodeSubmission(s: JobSubmission): w.SubmitJobRequest {
  return { jobId: orEmpty(s.jobId), planJson: s.planJson, modelJson: s.modelJson, options: encodeTrainingOptions(s.options) };
}
export function decodeSubmission(s: w.SubmitJobRequest): JobSubmission {
  if (!s.planJson) bad('submit: plan_json is empty');
  if (!s.modelJson) bad('submit: model_json is empty');
  return { jobId: orNull(s.jobId), planJson: s.planJson, modelJson: s.modelJson, options: decodeTrainingOptions(s.options) };
}
export const encodeSubmitResult = (r: SubmitResult): w.SubmitJobReply => ({ ...r });
export const decodeSubmitResult = (r: w.SubmitJobReply): SubmitResult => ({ jobId: r.jobId, planSha256: r.planSha256, worldSize: r.worldSize });

export function encodeFailure(f: Failure | null): w.Failure | null {
  return f === null ? null : { code: f.code, message: f.message, workerId: orEmpty(f.workerId), rank: nullToNeg(f.rank) };
}
export function decodeFailure(f: w.Failure | null): Failure | null {
  if (f === null) return null;
  if (!isErrorCode(f.code)) bad(`failure code "${f.code}" is not a uniap error code`);
  return { code: f.code, message: f.message, workerId: orNull(f.workerId), rank: negToNull(f.rank) };
}

export function encodeRankAssignment(r: RankAssignment): w.RankAssignment {
  return { rank: r.rank, localRank: r.localRank, deviceIndex: r.deviceIndex, workerId: r.workerId, pid: r.pid ?? 0 };
}
export function decodeRankAssignment(r: w.RankAssignment): RankAssignment {
  return { rank: r.rank, localRank: r.localRank, deviceIndex: r.deviceIndex, workerId: r.workerId, pid: zeroToNull(r.pid) };
}

export function encodeStepSummary(s: StepSummary): w.StepSummary {
  return {
    step: s.step,
    hasLoss: s.loss !== null,
    loss: s.loss ?? 0,
    timePerIterationMs: s.timePerIterationMs,
    computeMs: s.computeMs,
    exposedCommMs: s.exposedCommMs,
    samplesPerSecond: s.samplesPerSecond,
    tokensPerSecond: s.tokensPerSecond,
    memoryBytesPerRank: [...s.memoryBytesPerRank],
  };
}
export function decodeStepSummary(s: w.StepSummary): StepSummary {
  return {
    step: s.step,
    loss: s.hasLoss ? s.loss : null,
    timePerIterationMs: s.timePerIterationMs,
    computeMs: s.computeMs,
    exposedCommMs: s.exposedCommMs,
    samplesPerSecond: s.samplesPerSecond,
    tokensPerSecond: s.tokensPerSecond,
    memoryBytesPerRank: [...s.memoryBytesPerRank],
  };
}

export function encodeJobStatus(j: JobStatus): w.JobStatus {
  return {
    jobId: j.jobId,
    state: encodeJobState(j.state),
    attempt: j.attempt,
    worldSize: j.worldSize,
    steps: j.steps,
    lastStep: nullToNeg(j.lastStep),
    lastCheckpointStep: nullToNeg(j.lastCheckpointStep),
    planSha256: j.planSha256,
    modelName: j.modelName,
    predictedTimePerIterationMs: j.predictedTimePerIterationMs ?? 0,
    ranks: j.ranks.map(encodeRankAssignment),
    failure: encodeFailure(j.failure),
    lastMetrics: j.lastMetrics === null ? null : encodeStepSummary(j.lastMetrics),
    restarts: j.restarts,
    masterAddr: orEmpty(j.masterAddr),
    masterPort: j.masterPort ?? 0,
    createdAtMs: j.createdAtMs,
    updatedAtMs: j.updatedAtMs,
  };
}
export function decodeJobStatus(j: w.JobStatus): JobStatus {
  return {
    jobId: j.jobId,
    state: decodeJobState(j.state),
    attempt: j.attempt,
    worldSize: j.worldSize,
    steps: j.steps,
    lastStep: negToNull(j.lastStep),
    lastCheckpointStep: negToNull(j.lastCheckpointStep),
    planSha256: j.planSha256,
    modelName: j.modelName,
    predictedTimePerIterationMs: zeroToNull(j.predictedTimePerIterationMs),
    ranks: j.ranks.map(decodeRankAssignment),
    failure: decodeFailure(j.failure),
    lastMetrics: j.lastMetrics === null ? null : decodeStepSummary(j.lastMetrics),
    restarts: j.restarts,
    masterAddr: orNull(j.masterAddr),
    masterPort: zeroToNull(j.masterPort),
    createdAtMs: j.createdAtMs,
    updatedAtMs: j.updatedAtMs,
  };
}

export function encodeWorkerStatus(s: WorkerStatus): w.WorkerStatus {
  return {
    workerId: s.workerId,
    host: s.host,
    address: s.address,
    state: encodeMemberState(s.state),
    devices: s.devices.map(encodeDevice),
    lastHeartbeatAtMs: s.lastHeartbeatAtMs,
    jobId: orEmpty(s.jobId),
    nodeRank: nullToNeg(s.nodeRank),
  };
}
export function decodeWorkerStatus(s: w.WorkerStatus): WorkerStatus {
  return {
    workerId: s.workerId,
    host: s.host,
    address: s.address,
    state: decodeMemberState(s.state),
    devices: s.devices.map(decodeDevice),
    lastHeartbeatAtMs: s.lastHeartbeatAtMs,
    jobId: orNull(s.jobId),
    nodeRank: negToNull(s.nodeRank),
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
      // proto3 enums have a zero value; "from" of the first event (no previous state) travels as UNSPECIFIED.
      return { ...head, state: { from: b.from === null ? 'JOB_STATE_UNSPECIFIED' : encodeJobState(b.from), to: encodeJobState(b.to), reason: b.reason } };
    case 'step':
      return { ...head, step: encodeStepSummary(b.summary) };
    case 'log':
      return { ...head, log: { rank: b.rank, workerId: b.workerId, line: b.line } };
    case 'checkpoint':
      return { ...head, checkpoint: { step: b.step, path: b.path } };
    case 'result':
      return { ...head, result: { state: encodeJobState(b.state), failure: encodeFailure(b.failure), lastStep: nullToNeg(b.lastStep) } };
  }
}
export function decodeJobEvent(e: w.JobEvent): JobEvent {
  let body: JobEventBody;
  switch (e.kind) {
    case 'state': {
      const s = need(e.state, 'state');
      body = { kind: 'state', from: s.from === 'JOB_STATE_UNSPECIFIED' ? null : decodeJobState(s.from), to: decodeJobState(s.to), reason: s.reason };
      break;
    }
    case 'step':
      body = { kind: 'step', summary: decodeStepSummary(need(e.step, 'step')) };
      break;
    case 'log': {
      const l = need(e.log, 'log');
      body = { kind: 'log', rank: l.rank, workerId: l.workerId, line: l.line };
      break;
    }
    case 'checkpoint': {
      const c = need(e.checkpoint, 'checkpoint');
      body = { kind: 'checkpoint', step: c.step, path: c.path };
      break;
    }
    case 'result': {
      const r = need(e.result, 'result');
      body = { kind: 'result', state: decodeJobState(r.state), failure: decodeFailure(r.failure), lastStep: negToNull(r.lastStep) };
      break;
    }
    default:
      return bad('job event has no kind');
  }
  return { seq: e.seq, jobId: e.jobId, timeMs: e.timeMs, body };
}

// ---------------------------------------------------------------- worker service

export function encodeShare(s: WorkerShare): w.StartRequest {
  return {
    jobId: s.jobId,
    attempt: s.attempt,
    planJson: s.planJson,
    planSha256: s.planSha256,
    modelJson: s.modelJson,
    options: encodeTrainingOptions(s.options),
    resume: s.resume,
    worldSize: s.worldSize,
    masterAddr: s.masterAddr,
    masterPort: s.masterPort,
    backend: s.backend,
    ranks: s.ranks.map(encodeRankAssignment),
  };
}
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

export const encodeStartResult = (r: StartResult): w.StartReply => ({ planSha256: r.planSha256, processes: r.processes.map(encodeRankProcess) });
export const decodeStartResult = (r: w.StartReply): StartResult => ({ planSha256: r.planSha256, processes: r.processes.map(decodeRankProcess) });
