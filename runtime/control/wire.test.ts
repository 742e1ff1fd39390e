// The wire boundary: generated types are up to date with the proto, and every domain value survives
// encode -> protobuf bytes -> decode unchanged (nulls included), through the same descriptor and
// loader options the gRPC transport uses; every proto3 `optional` field is round-tripped set (with
// values such as 0, -1 or "" that a placeholder could have meant) and unset.
import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, generate } from '../../scripts/gen-protos.ts';
import { COORDINATOR_SERVICE, LOADER_OPTIONS, PROTO_DESCRIPTOR, WORKER_SERVICE } from './generated/uniap.ts';
import { RpcError } from './transport.ts';
import type {
  CoordinatorStatus,
  DeviceInfo,
  ExecutorEvent,
  Failure,
  Heartbeat,
  JobEvent,
  JobState,
  JobStatus,
  JobSubmission,
  RankAssignment,
  Registration,
  StepMetrics,
  StepSummary,
  TrainingOptions,
  WorkerShare,
  WorkerStatus,
} from './types.ts';
import * as wire from './wire.ts';

const pkg = protoLoader.fromJSON(PROTO_DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0], { ...LOADER_OPTIONS });
type Codec = { requestSerialize: (v: unknown) => Buffer; requestDeserialize: (b: Buffer) => unknown; responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };
const method = (service: string, name: string): Codec => (pkg[service] as unknown as Record<string, Codec>)[name]!;
const viaRequest = <T>(service: string, name: string, msg: T): T => {
  const m = method(service, name);
  return m.requestDeserialize(m.requestSerialize(msg)) as T;
};
const viaResponse = <T>(service: string, name: string, msg: T): T => {
  const m = method(service, name);
  return m.responseDeserialize(m.responseSerialize(msg)) as T;
};

describe('generated wire types', () => {
  it('are what scripts/gen-protos.ts makes from protos/uniap.proto (regenerate with `npx tsx scripts/gen-protos.ts`)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(generate());
  });

  it('say they are generated and not to be edited', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8').split('\n')[0]).toMatch(/^\/\/ GENERATED FILE - DO NOT EDIT/);
  });
});

describe('domain <-> wire round trips through protobuf bytes', () => {
  it('registration and heartbeat', () => {
    const reg = { workerId: null, host: 'node1', address: 'node1:4000', devices: [{ index: 0, kind: 'gpu' as const, name: 'H100', memoryBytes: 85_899_345_920 }], nodeRank: 3, pid: 42, version: 'v' };
    expect(wire.decodeRegistration(viaRequest(COORDINATOR_SERVICE, 'Register', wire.encodeRegistration(reg)))).toEqual(reg);
    const reg2 = { ...reg, workerId: 'w1', nodeRank: null, devices: [{ index: 1, kind: 'cpu' as const, name: 'cpu', memoryBytes: null }] };
    expect(wire.decodeRegistration(viaRequest(COORDINATOR_SERVICE, 'Register', wire.encodeRegistration(reg2)))).toEqual(reg2);
    const hb = { workerId: 'w1', state: 'running' as const, jobId: 'j', attempt: 2, planSha256: 'ab'.repeat(32), processes: [{ rank: 0, pid: 7 }] };
    expect(wire.decodeHeartbeat(viaRequest(COORDINATOR_SERVICE, 'Heartbeat', wire.encodeHeartbeat(hb)))).toEqual(hb);
    const idle = { workerId: 'w1', state: 'idle' as const, jobId: null, attempt: 0, planSha256: null, processes: [] };
    expect(wire.decodeHeartbeat(viaRequest(COORDINATOR_SERVICE, 'Heartbeat', wire.encodeHeartbeat(idle)))).toEqual(idle);
  });

  it('every kind of executor event', () => {
    const head = { jobId: 'j', attempt: 1, rank: 3, timeMs: 1_700_000_000_123 };
    const events: ExecutorEvent[] = [
      { ...head, body: { kind: 'ready', pid: 9, detailJson: '{"event":"ready"}' } },
      { ...head, body: { kind: 'step', metrics: { step: 4, loss: 2.5, timeMs: 12.5, computeMs: 10, exposedCommMs: 1.5, memoryBytes: 123456789012, samples: 8, tokens: 512 } } },
      { ...head, body: { kind: 'step', metrics: { step: 4, loss: null, timeMs: 12.5, computeMs: 10, exposedCommMs: 0, memoryBytes: 1, samples: 8, tokens: 512 } } },
      { ...head, body: { kind: 'checkpoint', step: 4, path: '/ckpt/rank3' } },
      { ...head, body: { kind: 'done' } },
      { ...head, body: { kind: 'error', message: 'boom' } },
      { ...head, body: { kind: 'exit', code: 1, signal: null, pid: 9 } },
      { ...head, body: { kind: 'exit', code: null, signal: 'SIGKILL', pid: 9 } },
      { ...head, body: { kind: 'log', line: 'hello' } },
    ];
    const back = wire.decodeReportEvents(viaRequest(COORDINATOR_SERVICE, 'ReportEvents', wire.encodeReportEvents('w1', events)));
    expect(back).toEqual({ workerId: 'w1', events });
  });

  it('job submission, share, status and every kind of job event', () => {
    const options = { steps: 5, seed: 1, lr: 0.001, data: 'synthetic', checkpointDir: null, checkpointEvery: 0, overlap: false, maxRestarts: 2, rendezvousTimeoutMs: null };
    const sub = { jobId: null, planJson: '{"a":1}', modelJson: '{"b":2}', options };
    expect(wire.decodeSubmission(viaRequest(COORDINATOR_SERVICE, 'SubmitJob', wire.encodeSubmission(sub)))).toEqual(sub);
    const share: WorkerShare = {
      jobId: 'j',
      attempt: 1,
      planJson: '{}',
      planSha256: 'ff',
      modelJson: '{}',
      options: { ...options, checkpointDir: '/ckpt', checkpointEvery: 2, rendezvousTimeoutMs: 5000 },
      resume: true,
      worldSize: 4,
      masterAddr: 'node1',
      masterPort: 29500,
      backend: 'nccl',
      ranks: [{ rank: 2, localRank: 0, deviceIndex: 4, workerId: 'w2', pid: null }],
    };
    expect(wire.decodeShare(viaRequest(WORKER_SERVICE, 'Start', wire.encodeShare(share)))).toEqual(share);
    const summary = { step: 3, loss: null, timePerIterationMs: 10, computeMs: 8, exposedCommMs: 1, samplesPerSecond: 800, tokensPerSecond: 51200, memoryBytesPerRank: [1, 2] };
    const status: CoordinatorStatus = {
      coordinatorId: 'c',
      startedAtMs: 1,
      workers: [{ workerId: 'w1', host: 'h', address: 'h:1', state: 'lost', devices: [], lastHeartbeatAtMs: 5, jobId: null, nodeRank: null }],
      jobs: [
        {
          jobId: 'j',
          state: 'failed',
          attempt: 0,
          worldSize: 2,
          steps: 10,
          lastStep: null,
          lastCheckpointStep: 0,
          planSha256: 'ab',
          modelName: 'tiny-gpt',
          predictedTimePerIterationMs: null,
          ranks: [{ rank: 0, localRank: 0, deviceIndex: 0, workerId: 'w1', pid: 77 }],
          failure: { code: 'WORKER_LOST', message: 'worker w1 stopped answering', workerId: 'w1', rank: null },
          lastMetrics: summary,
          restarts: 0,
          masterAddr: null,
          masterPort: null,
          createdAtMs: 1,
          updatedAtMs: 2,
        },
      ],
    };
    expect(wire.decodeCoordinatorStatus(viaResponse(COORDINATOR_SERVICE, 'GetStatus', wire.encodeCoordinatorStatus(status)))).toEqual(status);
    const events: JobEvent[] = [
      { seq: 1, jobId: 'j', timeMs: 1, body: { kind: 'state', from: null, to: 'waiting', reason: 'r' } },
      { seq: 2, jobId: 'j', timeMs: 2, body: { kind: 'state', from: 'running', to: 'restarting', reason: 'r' } },
      { seq: 3, jobId: 'j', timeMs: 3, body: { kind: 'step', summary: { ...summary, loss: 1.25 } } },
      { seq: 4, jobId: 'j', timeMs: 4, body: { kind: 'log', rank: 1, workerId: 'w1', line: 'x' } },
      { seq: 5, jobId: 'j', timeMs: 5, body: { kind: 'checkpoint', step: 2, path: '/p' } },
      { seq: 6, jobId: 'j', timeMs: 6, body: { kind: 'result', state: 'succeeded', failure: null, lastStep: 10 } },
    ];
    for (const e of events) expect(wire.decodeJobEvent(viaResponse(COORDINATOR_SERVICE, 'WatchJob', wire.encodeJobEvent(e)))).toEqual(e);
  });

  it('refuses malformed messages as invalid-argument', () => {
    const bad = wire.encodeJobStatus({ jobId: 'j', state: 'running', attempt: 0, worldSize: 1, steps: 1, lastStep: null, lastCheckpointStep: null, planSha256: '', modelName: '', predictedTimePerIterationMs: null, ranks: [], failure: null, lastMetrics: null, restarts: 0, masterAddr: null, masterPort: null, createdAtMs: 0, updatedAtMs: 0 });
    expect(() => wire.decodeJobStatus({ ...bad, state: 'JOB_STATE_UNSPECIFIED' })).toThrow(RpcError);
    expect(() => wire.decodeFailure({ code: 'NOT_A_CODE', message: '', workerId: '', rank: -1 })).toThrow(/not a uniap error code/);
    expect(() => wire.decodeHeartbeat({ workerId: 'w', state: 'WORKER_STATE_LOST', jobId: '', attempt: 0, planSha256: '', processes: [] })).toThrow(/cannot report itself lost/);
    expect(() => wire.decodeExecutorEvent({ jobId: 'j', attempt: 0, rank: 0, timeMs: 0 })).toThrow(/no kind/);
  });
});

// ---------------------------------------------------------------- proto3 `optional` fields

const rtRegistration = (r: Registration): Registration => wire.decodeRegistration(viaRequest(COORDINATOR_SERVICE, 'Register', wire.encodeRegistration(r)));
const rtHeartbeat = (h: Heartbeat): Heartbeat => wire.decodeHeartbeat(viaRequest(COORDINATOR_SERVICE, 'Heartbeat', wire.encodeHeartbeat(h)));
const rtEvent = (e: ExecutorEvent): ExecutorEvent => wire.decodeReportEvents(viaRequest(COORDINATOR_SERVICE, 'ReportEvents', wire.encodeReportEvents('w1', [e]))).events[0]!;
const rtSubmission = (s: JobSubmission): JobSubmission => wire.decodeSubmission(viaRequest(COORDINATOR_SERVICE, 'SubmitJob', wire.encodeSubmission(s)));
const rtShare = (s: WorkerShare): WorkerShare => wire.decodeShare(viaRequest(WORKER_SERVICE, 'Start', wire.encodeShare(s)));
const rtStatus = (s: CoordinatorStatus): CoordinatorStatus => wire.decodeCoordinatorStatus(viaResponse(COORDINATOR_SERVICE, 'GetStatus', wire.encodeCoordinatorStatus(s)));
const rtJobEvent = (e: JobEvent): JobEvent => wire.decodeJobEvent(viaResponse(COORDINATOR_SERVICE, 'WatchJob', wire.encodeJobEvent(e)));

const device: DeviceInfo = { index: 0, kind: 'gpu', name: 'H100', memoryBytes: 85_899_345_920 };
const registration: Registration = { workerId: 'w1', host: 'node1', address: 'node1:4000', devices: [device], nodeRank: 3, pid: 42, version: 'v' };
const heartbeat: Heartbeat = { workerId: 'w1', state: 'running', jobId: 'j', attempt: 2, planSha256: 'ab'.repeat(32), processes: [{ rank: 0, pid: 7 }] };
const metrics: StepMetrics = { step: 4, loss: 2.5, timeMs: 12.5, computeMs: 10, exposedCommMs: 1.5, memoryBytes: 1, samples: 8, tokens: 512 };
const stepEvent = (m: StepMetrics): ExecutorEvent => ({ jobId: 'j', attempt: 0, rank: 1, timeMs: 5, body: { kind: 'step', metrics: m } });
const exitEvent = (code: number | null, signal: string | null): ExecutorEvent => ({ jobId: 'j', attempt: 0, rank: 1, timeMs: 5, body: { kind: 'exit', code, signal, pid: 9 } });
const options: TrainingOptions = { steps: 5, seed: 1, lr: 0.001, data: 'synthetic', checkpointDir: '/ckpt', checkpointEvery: 2, overlap: true, maxRestarts: 1, rendezvousTimeoutMs: 5000 };
const submission: JobSubmission = { jobId: 'j', planJson: '{"a":1}', modelJson: '{"b":2}', options };
const rankAssignment: RankAssignment = { rank: 2, localRank: 0, deviceIndex: 4, workerId: 'w2', pid: 77 };
const share: WorkerShare = { jobId: 'j', attempt: 1, planJson: '{}', planSha256: 'ff', modelJson: '{}', options, resume: false, worldSize: 4, masterAddr: 'node1', masterPort: 29500, backend: 'gloo', ranks: [rankAssignment] };
const failure: Failure = { code: 'RUNTIME_FAILED', message: 'rank 0 exited with code 1', workerId: 'w1', rank: 0 };
const summary: StepSummary = { step: 3, loss: 1.25, timePerIterationMs: 10, computeMs: 8, exposedCommMs: 1, samplesPerSecond: 800, tokensPerSecond: 51200, memoryBytesPerRank: [1, 2] };
const jobStatus: JobStatus = {
  jobId: 'j',
  state: 'running',
  attempt: 1,
  worldSize: 2,
  steps: 10,
  lastStep: 4,
  lastCheckpointStep: 2,
  planSha256: 'ab',
  modelName: 'tiny-gpt',
  predictedTimePerIterationMs: 640,
  ranks: [rankAssignment],
  failure,
  lastMetrics: summary,
  restarts: 1,
  masterAddr: 'node1',
  masterPort: 29500,
  createdAtMs: 1,
  updatedAtMs: 2,
};
const workerStatus: WorkerStatus = { workerId: 'w1', host: 'h', address: 'h:1', state: 'running', devices: [device], lastHeartbeatAtMs: 5, jobId: 'j', nodeRank: 1 };
const statusWith = (j: Partial<JobStatus>, wk: Partial<WorkerStatus> = {}): CoordinatorStatus => ({ coordinatorId: 'c', startedAtMs: 1, workers: [{ ...workerStatus, ...wk }], jobs: [{ ...jobStatus, ...j }] });
const stateEvent = (from: JobState | null): JobEvent => ({ seq: 1, jobId: 'j', timeMs: 1, body: { kind: 'state', from, to: 'waiting', reason: 'submitted' } });
const resultEvent = (f: Failure | null, lastStep: number | null): JobEvent => ({ seq: 9, jobId: 'j', timeMs: 9, body: { kind: 'result', state: f ? 'failed' : 'succeeded', failure: f, lastStep } });

/** One round trip: the domain value back from encode -> bytes -> decode. */
type Case = { rt: (v: never) => unknown; set: unknown[]; unset: unknown[] };
const c = <T>(rt: (v: T) => T, set: T[], unset: T[]): Case => ({ rt: rt as (v: never) => unknown, set, unset });

// Keyed Message.field as in the generated descriptor; the test below checks the keys are exactly the
// proto's `optional` fields, so a new one needs its cases here.
const OPTIONAL_FIELD_CASES: Record<string, Case> = {
  'Device.memoryBytes': c(rtRegistration, [registration, { ...registration, devices: [{ ...device, memoryBytes: 0 }] }], [{ ...registration, devices: [{ index: 1, kind: 'cpu', name: 'cpu', memoryBytes: null }] }]),
  'RegisterRequest.workerId': c(rtRegistration, [registration], [{ ...registration, workerId: null }]),
  'RegisterRequest.nodeRank': c(rtRegistration, [registration, { ...registration, nodeRank: 0 }], [{ ...registration, nodeRank: null }]),
  'HeartbeatRequest.jobId': c(rtHeartbeat, [heartbeat], [{ ...heartbeat, state: 'idle', jobId: null, planSha256: null, processes: [] }]),
  'HeartbeatRequest.planSha256': c(rtHeartbeat, [heartbeat], [{ ...heartbeat, planSha256: null }]),
  'StepMetrics.loss': c(rtEvent, [stepEvent(metrics), stepEvent({ ...metrics, loss: 0 }), stepEvent({ ...metrics, loss: -1 })], [stepEvent({ ...metrics, loss: null })]),
  'ExitEvent.code': c(rtEvent, [exitEvent(0, null), exitEvent(1, null)], [exitEvent(null, 'SIGKILL')]),
  'ExitEvent.signal': c(rtEvent, [exitEvent(null, 'SIGTERM')], [exitEvent(0, null)]),
  'TrainingOptions.checkpointDir': c(rtShare, [share], [{ ...share, options: { ...options, checkpointDir: null, checkpointEvery: 0 } }]),
  'TrainingOptions.rendezvousTimeoutMs': c(rtSubmission, [submission, { ...submission, options: { ...options, rendezvousTimeoutMs: 1 } }], [{ ...submission, options: { ...options, rendezvousTimeoutMs: null } }]),
  'SubmitJobRequest.jobId': c(rtSubmission, [submission], [{ ...submission, jobId: null }]),
  'Failure.workerId': c(rtStatus, [statusWith({ state: 'failed' })], [statusWith({ state: 'failed', failure: { ...failure, workerId: null } })]),
  'Failure.rank': c(rtJobEvent, [resultEvent(failure, 3), resultEvent({ ...failure, rank: 5 }, 3)], [resultEvent({ ...failure, rank: null, workerId: null }, 3)]),
  'RankAssignment.pid': c(rtShare, [share], [{ ...share, ranks: [{ ...rankAssignment, pid: null }] }]),
  'StepSummary.loss': c(rtJobEvent, [{ seq: 3, jobId: 'j', timeMs: 3, body: { kind: 'step', summary: { ...summary, loss: 0 } } }], [{ seq: 3, jobId: 'j', timeMs: 3, body: { kind: 'step', summary: { ...summary, loss: null } } }]),
  'JobStatus.lastStep': c(rtStatus, [statusWith({}), statusWith({ lastStep: 0 })], [statusWith({ lastStep: null, lastCheckpointStep: null, lastMetrics: null })]),
  'JobStatus.lastCheckpointStep': c(rtStatus, [statusWith({ lastCheckpointStep: 0 })], [statusWith({ lastCheckpointStep: null })]),
  'JobStatus.predictedTimePerIterationMs': c(rtStatus, [statusWith({}), statusWith({ predictedTimePerIterationMs: 0 })], [statusWith({ predictedTimePerIterationMs: null })]),
  'JobStatus.masterAddr': c(rtStatus, [statusWith({})], [statusWith({ state: 'waiting', masterAddr: null, masterPort: null, ranks: [] })]),
  'JobStatus.masterPort': c(rtStatus, [statusWith({ masterPort: 1 })], [statusWith({ masterPort: null })]),
  'WorkerStatus.jobId': c(rtStatus, [statusWith({})], [statusWith({}, { state: 'idle', jobId: null })]),
  'WorkerStatus.nodeRank': c(rtStatus, [statusWith({}, { nodeRank: 0 })], [statusWith({}, { nodeRank: null })]),
  'GetStatusRequest.jobId': c((jobId: string | null) => viaRequest(COORDINATOR_SERVICE, 'GetStatus', { jobId }).jobId ?? null, ['j', ''], [null]),
  'StateChange.from': c(rtJobEvent, [stateEvent('running'), stateEvent('waiting')], [stateEvent(null)]),
  'JobResult.lastStep': c(rtJobEvent, [resultEvent(null, 10), resultEvent(null, 0)], [resultEvent(failure, null)]),
};

/** Message.field of every proto3 `optional` field in the descriptor the transport loads. */
function optionalFieldsOfProto(): string[] {
  const out: string[] = [];
  const walk = (node: Record<string, unknown>): void => {
    for (const [name, def] of Object.entries((node['nested'] ?? {}) as Record<string, Record<string, unknown>>)) {
      const fields = (def['fields'] ?? {}) as Record<string, { options?: Record<string, unknown> }>;
      for (const [field, f] of Object.entries(fields)) if (f.options?.['proto3_optional'] === true) out.push(`${name}.${field}`);
      walk(def);
    }
  };
  walk(PROTO_DESCRIPTOR);
  return out.sort();
}

describe('proto3 optional fields survive the wire set and unset', () => {
  it('every optional field of the proto has cases here', () => {
    expect(Object.keys(OPTIONAL_FIELD_CASES).sort()).toEqual(optionalFieldsOfProto());
  });

  for (const [field, { rt, set, unset }] of Object.entries(OPTIONAL_FIELD_CASES)) {
    it(field, () => {
      for (const v of [...set, ...unset]) expect((rt as (v: unknown) => unknown)(v)).toEqual(v);
    });
  }

  it('put a set 0 or "" on the wire and leave null off it', () => {
    const set = viaRequest(COORDINATOR_SERVICE, 'Register', wire.encodeRegistration({ ...registration, nodeRank: 0, devices: [{ ...device, memoryBytes: 0 }] }));
    expect(set.nodeRank).toBe(0);
    expect(set.devices[0]!.memoryBytes).toBe(0);
    const unset = viaRequest(COORDINATOR_SERVICE, 'Register', wire.encodeRegistration({ ...registration, workerId: null, nodeRank: null }));
    expect('workerId' in unset || 'nodeRank' in unset).toBe(false);
    expect(viaRequest(COORDINATOR_SERVICE, 'GetStatus', { jobId: '' }).jobId).toBe('');
  });

  it('refuse set values that mean nothing', () => {
    expect(() => wire.decodeRegistration({ ...wire.encodeRegistration(registration), nodeRank: -1 })).toThrow(/node rank must not be negative/);
    expect(() => wire.decodeSubmission({ ...wire.encodeSubmission(submission), options: { ...options, rendezvousTimeoutMs: 0 } })).toThrow(/rendezvousTimeoutMs must be positive/);
    expect(() => wire.decodeJobEvent({ seq: 1, jobId: 'j', timeMs: 1, kind: 'state', state: { from: 'JOB_STATE_UNSPECIFIED', to: 'JOB_STATE_WAITING', reason: '' } })).toThrow(RpcError);
  });
});
