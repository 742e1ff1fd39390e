// GENERATED FILE - DO NOT EDIT. Produced by scripts/gen-protos.ts from protos/uniap.proto.
// Change the proto and run `npx tsx scripts/gen-protos.ts`; runtime/control/wire.test.ts fails when this
// file is stale. Domain types convert to these wire types only in runtime/control/wire.ts.
/* eslint-disable */

export const PROTO_PACKAGE = 'uniap.v1';

/**
 * Options for @grpc/proto-loader that produce the shapes declared below: int64 as number, enums as
 * their names, every plain scalar and repeated field present (proto3 defaults), unset message fields
 * null, unset oneof members and unset `optional` fields absent, and the oneof name holding the member
 * that is set. (Decoded messages also carry `_<field>` keys, protobufjs's synthetic oneofs of
 * `optional` fields; nothing reads them, so they are not declared.) When encoding, null and absent
 * both leave an `optional` field unset.
 */
export const LOADER_OPTIONS = { longs: Number, enums: String, defaults: true, oneofs: true } as const;

export type DeviceKind = 'DEVICE_KIND_UNSPECIFIED' | 'DEVICE_KIND_CPU' | 'DEVICE_KIND_GPU';
export const DeviceKindValues: readonly DeviceKind[] = ['DEVICE_KIND_UNSPECIFIED', 'DEVICE_KIND_CPU', 'DEVICE_KIND_GPU'];

export type WorkerState = 'WORKER_STATE_UNSPECIFIED' | 'WORKER_STATE_CONNECTING' | 'WORKER_STATE_IDLE' | 'WORKER_STATE_STARTING' | 'WORKER_STATE_RUNNING' | 'WORKER_STATE_STOPPING' | 'WORKER_STATE_COORDINATOR_LOST' | 'WORKER_STATE_EXITED' | 'WORKER_STATE_LOST';
export const WorkerStateValues: readonly WorkerState[] = ['WORKER_STATE_UNSPECIFIED', 'WORKER_STATE_CONNECTING', 'WORKER_STATE_IDLE', 'WORKER_STATE_STARTING', 'WORKER_STATE_RUNNING', 'WORKER_STATE_STOPPING', 'WORKER_STATE_COORDINATOR_LOST', 'WORKER_STATE_EXITED', 'WORKER_STATE_LOST'];

export type JobState = 'JOB_STATE_UNSPECIFIED' | 'JOB_STATE_WAITING' | 'JOB_STATE_STARTING' | 'JOB_STATE_RUNNING' | 'JOB_STATE_RESTARTING' | 'JOB_STATE_STOPPING' | 'JOB_STATE_SUCCEEDED' | 'JOB_STATE_FAILED' | 'JOB_STATE_STOPPED';
export const JobStateValues: readonly JobState[] = ['JOB_STATE_UNSPECIFIED', 'JOB_STATE_WAITING', 'JOB_STATE_STARTING', 'JOB_STATE_RUNNING', 'JOB_STATE_RESTARTING', 'JOB_STATE_STOPPING', 'JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_STOPPED'];

export interface Device {
  /** CUDA device index, or CPU slot index */
  index: number;
  kind: DeviceKind;
  /** e.g. "NVIDIA H100 80GB HBM3", "cpu" */
  name: string;
  /** unset when unknown */
  memoryBytes?: number | null;
}

export interface RegisterRequest {
  /** proposed id; unset: the coordinator names it */
  workerId?: string | null;
  /** address other hosts reach this one at (torch.distributed MASTER_ADDR) */
  host: string;
  /** host:port of this worker's Worker service */
  address: string;
  devices: Device[];
  /** orders workers for rank assignment; unset: registration order */
  nodeRank?: number | null;
  pid: number;
  version: string;
}

export interface RegisterReply {
  workerId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export interface RankProcess {
  rank: number;
  pid: number;
}

export interface HeartbeatRequest {
  workerId: string;
  state: WorkerState;
  /** unset when idle */
  jobId?: string | null;
  attempt: number;
  /** sha256 of the plan file the executors read; unset when idle */
  planSha256?: string | null;
  processes: RankProcess[];
}

export interface HeartbeatReply {
  /** false: the coordinator does not know this worker; register again */
  known: boolean;
  /** the job this worker reports is over (or unknown): end its executors */
  stop: boolean;
}

export interface StepMetrics {
  step: number;
  /** only ranks that compute the loss report one */
  loss?: number | null;
  timeMs: number;
  computeMs: number;
  exposedCommMs: number;
  memoryBytes: number;
  samples: number;
  tokens: number;
}

export interface ExecutorEvent {
  jobId: string;
  attempt: number;
  rank: number;
  timeMs: number;
  ready?: ReadyEvent;
  step?: StepMetrics;
  checkpoint?: CheckpointEvent;
  done?: DoneEvent;
  error?: ErrorEvent;
  exit?: ExitEvent;
  log?: LogEvent;
  /** Which member of oneof `kind` is set (absent when none). */
  kind?: 'ready' | 'step' | 'checkpoint' | 'done' | 'error' | 'exit' | 'log';
}

export interface ReadyEvent {
  pid: number;
  /** the executor's ready line, verbatim */
  detailJson: string;
}

export interface CheckpointEvent {
  step: number;
  path: string;
}

export interface DoneEvent {
}

export interface ErrorEvent {
  message: string;
}

export interface ExitEvent {
  /** unset when a signal ended the process */
  code?: number | null;
  /** e.g. "SIGKILL"; unset when the process exited by itself */
  signal?: string | null;
  pid: number;
}

export interface LogEvent {
  line: string;
}

export interface ReportEventsRequest {
  workerId: string;
  events: ExecutorEvent[];
}

export interface ReportEventsReply {
  /** the job these events belong to is over: end its executors */
  stop: boolean;
}

export interface TrainingOptions {
  steps: number;
  seed: number;
  lr: number;
  /** "synthetic" or a path on every worker */
  data: string;
  /** unset: no checkpoints */
  checkpointDir?: string | null;
  /** 0: none */
  checkpointEvery: number;
  overlap: boolean;
  /** restarts from the last checkpoint after a failure (0: fail) */
  maxRestarts: number;
  /** unset: wait forever */
  rendezvousTimeoutMs?: number | null;
}

export interface SubmitJobRequest {
  /** unset: the coordinator names it */
  jobId?: string | null;
  planJson: string;
  /** resolved ModelSpec */
  modelJson: string;
  options: TrainingOptions | null;
}

export interface SubmitJobReply {
  jobId: string;
  planSha256: string;
  worldSize: number;
}

export interface StopJobRequest {
  jobId: string;
  reason: string;
}

export interface StopJobReply {
  state: JobState;
}

export interface Failure {
  /** a uniap ErrorCode: WORKER_LOST, RUNTIME_FAILED, ... */
  code: string;
  message: string;
  /** unset: not one worker */
  workerId?: string | null;
  /** unset: not one rank */
  rank?: number | null;
}

export interface RankAssignment {
  rank: number;
  localRank: number;
  deviceIndex: number;
  workerId: string;
  /** unset until the executor runs */
  pid?: number | null;
}

export interface StepSummary {
  step: number;
  /** mean over the ranks that report one; unset when none does */
  loss?: number | null;
  /** slowest rank */
  timePerIterationMs: number;
  /** slowest rank */
  computeMs: number;
  /** largest over ranks */
  exposedCommMs: number;
  samplesPerSecond: number;
  tokensPerSecond: number;
  /** index = rank */
  memoryBytesPerRank: number[];
}

export interface JobStatus {
  jobId: string;
  state: JobState;
  attempt: number;
  worldSize: number;
  steps: number;
  /** unset: none yet */
  lastStep?: number | null;
  /** unset: none yet */
  lastCheckpointStep?: number | null;
  planSha256: string;
  modelName: string;
  /** unset: the plan has no prediction */
  predictedTimePerIterationMs?: number | null;
  ranks: RankAssignment[];
  failure: Failure | null;
  lastMetrics: StepSummary | null;
  restarts: number;
  /** rank 0's host; unset while ranks are unassigned */
  masterAddr?: string | null;
  /** torch.distributed rendezvous port; unset while ranks are unassigned */
  masterPort?: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface WorkerStatus {
  workerId: string;
  host: string;
  address: string;
  state: WorkerState;
  devices: Device[];
  lastHeartbeatAtMs: number;
  /** unset when idle */
  jobId?: string | null;
  /** unset: registration order */
  nodeRank?: number | null;
}

export interface GetStatusRequest {
  /** unset: every job */
  jobId?: string | null;
}

export interface StatusReply {
  coordinatorId: string;
  startedAtMs: number;
  workers: WorkerStatus[];
  jobs: JobStatus[];
}

export interface WatchJobRequest {
  jobId: string;
  /** 0: from the beginning */
  afterSeq: number;
}

export interface StateChange {
  /** unset on a job's first event (no previous state) */
  from?: JobState | null;
  to: JobState;
  reason: string;
}

export interface RankLog {
  rank: number;
  workerId: string;
  line: string;
}

export interface JobResult {
  state: JobState;
  failure: Failure | null;
  /** unset: no step finished */
  lastStep?: number | null;
}

export interface JobEvent {
  seq: number;
  jobId: string;
  timeMs: number;
  state?: StateChange;
  step?: StepSummary;
  log?: RankLog;
  checkpoint?: CheckpointEvent;
  result?: JobResult;
  /** Which member of oneof `kind` is set (absent when none). */
  kind?: 'state' | 'step' | 'log' | 'checkpoint' | 'result';
}

export interface PrepareRequest {
  jobId: string;
  attempt: number;
}

export interface PrepareReply {
  masterPort: number;
}

export interface StartRequest {
  jobId: string;
  attempt: number;
  planJson: string;
  /** the worker refuses a plan whose bytes hash otherwise */
  planSha256: string;
  modelJson: string;
  options: TrainingOptions | null;
  /** start from the last checkpoint */
  resume: boolean;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** "gloo" | "nccl" */
  backend: string;
  /** this worker's ranks only */
  ranks: RankAssignment[];
}

export interface StartReply {
  /** hash of the plan file as written for the executors */
  planSha256: string;
  processes: RankProcess[];
}

export interface WorkerStopRequest {
  jobId: string;
  attempt: number;
  reason: string;
}

export interface WorkerStopReply {
  /** executors ended by this call */
  stopped: number;
}

export interface ShutdownRequest {
  reason: string;
}

export interface ShutdownReply {
}

/**
 * Served by the coordinator (`uniap coordinator`, or inside `uniap launch`); called by worker agents
 * (Register, Heartbeat, ReportEvents) and by the CLI (SubmitJob, StopJob, GetStatus, WatchJob).
 */
export const COORDINATOR_SERVICE = 'uniap.v1.Coordinator';
export interface CoordinatorMethods {
  /** A worker agent joins: its devices and the address of its Worker service. */
  Register: { request: RegisterRequest; response: RegisterReply; requestStream: false; responseStream: false };
  /**
   * Liveness of a worker and of the executors it runs; a worker silent for longer than the
   * heartbeat timeout is lost.
   */
  Heartbeat: { request: HeartbeatRequest; response: HeartbeatReply; requestStream: false; responseStream: false };
  /** Executor output a worker forwards: step metrics, checkpoints, logs, exits. */
  ReportEvents: { request: ReportEventsRequest; response: ReportEventsReply; requestStream: false; responseStream: false };
  /** A job: the plan, the model and the training options. */
  SubmitJob: { request: SubmitJobRequest; response: SubmitJobReply; requestStream: false; responseStream: false };
  StopJob: { request: StopJobRequest; response: StopJobReply; requestStream: false; responseStream: false };
  /** Membership and job state as the coordinator (and Redis) knows them. */
  GetStatus: { request: GetStatusRequest; response: StatusReply; requestStream: false; responseStream: false };
  /** The job's events from `after_seq` on: state changes, per-iteration metrics, logs, the result. */
  WatchJob: { request: WatchJobRequest; response: JobEvent; requestStream: false; responseStream: true };
}
export const CoordinatorMethodNames = ['Register', 'Heartbeat', 'ReportEvents', 'SubmitJob', 'StopJob', 'GetStatus', 'WatchJob'] as const;

/** Served by each worker agent (`uniap worker`); called by the coordinator. */
export const WORKER_SERVICE = 'uniap.v1.Worker';
export interface WorkerMethods {
  /** Reserve a free TCP port on this host for torch.distributed's rendezvous (rank 0's worker). */
  Prepare: { request: PrepareRequest; response: PrepareReply; requestStream: false; responseStream: false };
  /** This worker's share of a job: which ranks it runs and the plan they execute. */
  Start: { request: StartRequest; response: StartReply; requestStream: false; responseStream: false };
  /** End the executors of a job (SIGTERM, then SIGKILL after the grace period). */
  Stop: { request: WorkerStopRequest; response: WorkerStopReply; requestStream: false; responseStream: false };
  /** End the executors and the worker agent itself. */
  Shutdown: { request: ShutdownRequest; response: ShutdownReply; requestStream: false; responseStream: false };
}
export const WorkerMethodNames = ['Prepare', 'Start', 'Stop', 'Shutdown'] as const;

/** The proto definitions as protobufjs JSON, for @grpc/proto-loader `fromJSON`. */
export const PROTO_DESCRIPTOR: Record<string, unknown> = {
  "nested": {
    "uniap": {
      "nested": {
        "v1": {
          "nested": {
            "Coordinator": {
              "methods": {
                "Register": {
                  "requestType": "RegisterRequest",
                  "responseType": "RegisterReply"
                },
                "Heartbeat": {
                  "requestType": "HeartbeatRequest",
                  "responseType": "HeartbeatReply"
                },
                "ReportEvents": {
                  "requestType": "ReportEventsRequest",
                  "responseType": "ReportEventsReply"
                },
                "SubmitJob": {
                  "requestType": "SubmitJobRequest",
                  "responseType": "SubmitJobReply"
                },
                "StopJob": {
                  "requestType": "StopJobRequest",
                  "responseType": "StopJobReply"
                },
                "GetStatus": {
                  "requestType": "GetStatusRequest",
                  "responseType": "StatusReply"
                },
                "WatchJob": {
                  "requestType": "WatchJobRequest",
                  "responseType": "JobEvent",
                  "responseStream": true
                }
              }
            },
            "Worker": {
              "methods": {
                "Prepare": {
                  "requestType": "PrepareRequest",
                  "responseType": "PrepareReply"
                },
                "Start": {
                  "requestType": "StartRequest",
                  "responseType": "StartReply"
                },
                "Stop": {
                  "requestType": "WorkerStopRequest",
                  "responseType": "WorkerStopReply"
                },
                "Shutdown": {
                  "requestType": "ShutdownRequest",
                  "responseType": "ShutdownReply"
                }
              }
            },
            "DeviceKind": {
              "values": {
                "DEVICE_KIND_UNSPECIFIED": 0,
                "DEVICE_KIND_CPU": 1,
                "DEVICE_KIND_GPU": 2
              }
            },
            "Device": {
              "oneofs": {
                "_memoryBytes": {
                  "oneof": [
                    "memoryBytes"
                  ]
                }
              },
              "fields": {
                "index": {
                  "type": "int32",
                  "id": 1
                },
                "kind": {
                  "type": "DeviceKind",
                  "id": 2
                },
                "name": {
                  "type": "string",
                  "id": 3
                },
                "memoryBytes": {
                  "type": "int64",
                  "id": 4,
                  "protoName": "memory_bytes",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "WorkerState": {
              "values": {
                "WORKER_STATE_UNSPECIFIED": 0,
                "WORKER_STATE_CONNECTING": 1,
                "WORKER_STATE_IDLE": 2,
                "WORKER_STATE_STARTING": 3,
                "WORKER_STATE_RUNNING": 4,
                "WORKER_STATE_STOPPING": 5,
                "WORKER_STATE_COORDINATOR_LOST": 6,
                "WORKER_STATE_EXITED": 7,
                "WORKER_STATE_LOST": 8
              }
            },
            "RegisterRequest": {
              "oneofs": {
                "_workerId": {
                  "oneof": [
                    "workerId"
                  ]
                },
                "_nodeRank": {
                  "oneof": [
                    "nodeRank"
                  ]
                }
              },
              "fields": {
                "workerId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "worker_id",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "host": {
                  "type": "string",
                  "id": 2
                },
                "address": {
                  "type": "string",
                  "id": 3
                },
                "devices": {
                  "rule": "repeated",
                  "type": "Device",
                  "id": 4
                },
                "nodeRank": {
                  "type": "int32",
                  "id": 5,
                  "protoName": "node_rank",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "pid": {
                  "type": "int32",
                  "id": 6
                },
                "version": {
                  "type": "string",
                  "id": 7
                }
              }
            },
            "RegisterReply": {
              "fields": {
                "workerId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "worker_id"
                },
                "heartbeatIntervalMs": {
                  "type": "int64",
                  "id": 2,
                  "protoName": "heartbeat_interval_ms"
                },
                "heartbeatTimeoutMs": {
                  "type": "int64",
                  "id": 3,
                  "protoName": "heartbeat_timeout_ms"
                }
              }
            },
            "RankProcess": {
              "fields": {
                "rank": {
                  "type": "int32",
                  "id": 1
                },
                "pid": {
                  "type": "int32",
                  "id": 2
                }
              }
            },
            "HeartbeatRequest": {
              "oneofs": {
                "_jobId": {
                  "oneof": [
                    "jobId"
                  ]
                },
                "_planSha256": {
                  "oneof": [
                    "planSha256"
                  ]
                }
              },
              "fields": {
                "workerId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "worker_id"
                },
                "state": {
                  "type": "WorkerState",
                  "id": 2
                },
                "jobId": {
                  "type": "string",
                  "id": 3,
                  "protoName": "job_id",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "attempt": {
                  "type": "int32",
                  "id": 4
                },
                "planSha256": {
                  "type": "string",
                  "id": 5,
                  "protoName": "plan_sha256",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "processes": {
                  "rule": "repeated",
                  "type": "RankProcess",
                  "id": 6
                }
              }
            },
            "HeartbeatReply": {
              "fields": {
                "known": {
                  "type": "bool",
                  "id": 1
                },
                "stop": {
                  "type": "bool",
                  "id": 2
                }
              }
            },
            "StepMetrics": {
              "oneofs": {
                "_loss": {
                  "oneof": [
                    "loss"
                  ]
                }
              },
              "fields": {
                "step": {
                  "type": "int32",
                  "id": 1
                },
                "loss": {
                  "type": "double",
                  "id": 3,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "timeMs": {
                  "type": "double",
                  "id": 4,
                  "protoName": "time_ms"
                },
                "computeMs": {
                  "type": "double",
                  "id": 5,
                  "protoName": "compute_ms"
                },
                "exposedCommMs": {
                  "type": "double",
                  "id": 6,
                  "protoName": "exposed_comm_ms"
                },
                "memoryBytes": {
                  "type": "int64",
                  "id": 7,
                  "protoName": "memory_bytes"
                },
                "samples": {
                  "type": "int64",
                  "id": 8
                },
                "tokens": {
                  "type": "int64",
                  "id": 9
                }
              },
              "reserved": [
                [
                  2,
                  2
                ],
                "has_loss"
              ]
            },
            "ExecutorEvent": {
              "oneofs": {
                "kind": {
                  "oneof": [
                    "ready",
                    "step",
                    "checkpoint",
                    "done",
                    "error",
                    "exit",
                    "log"
                  ]
                }
              },
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "attempt": {
                  "type": "int32",
                  "id": 2
                },
                "rank": {
                  "type": "int32",
                  "id": 3
                },
                "timeMs": {
                  "type": "int64",
                  "id": 4,
                  "protoName": "time_ms"
                },
                "ready": {
                  "type": "ReadyEvent",
                  "id": 10
                },
                "step": {
                  "type": "StepMetrics",
                  "id": 11
                },
                "checkpoint": {
                  "type": "CheckpointEvent",
                  "id": 12
                },
                "done": {
                  "type": "DoneEvent",
                  "id": 13
                },
                "error": {
                  "type": "ErrorEvent",
                  "id": 14
                },
                "exit": {
                  "type": "ExitEvent",
                  "id": 15
                },
                "log": {
                  "type": "LogEvent",
                  "id": 16
                }
              }
            },
            "ReadyEvent": {
              "fields": {
                "pid": {
                  "type": "int32",
                  "id": 1
                },
                "detailJson": {
                  "type": "string",
                  "id": 2,
                  "protoName": "detail_json"
                }
              }
            },
            "CheckpointEvent": {
              "fields": {
                "step": {
                  "type": "int32",
                  "id": 1
                },
                "path": {
                  "type": "string",
                  "id": 2
                }
              }
            },
            "DoneEvent": {
              "fields": {}
            },
            "ErrorEvent": {
              "fields": {
                "message": {
                  "type": "string",
                  "id": 1
                }
              }
            },
            "ExitEvent": {
              "oneofs": {
                "_code": {
                  "oneof": [
                    "code"
                  ]
                },
                "_signal": {
                  "oneof": [
                    "signal"
                  ]
                }
              },
              "fields": {
                "code": {
                  "type": "int32",
                  "id": 1,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "signal": {
                  "type": "string",
                  "id": 2,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "pid": {
                  "type": "int32",
                  "id": 3
                }
              }
            },
            "LogEvent": {
              "fields": {
                "line": {
                  "type": "string",
                  "id": 1
                }
              }
            },
            "ReportEventsRequest": {
              "fields": {
                "workerId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "worker_id"
                },
                "events": {
                  "rule": "repeated",
                  "type": "ExecutorEvent",
                  "id": 2
                }
              }
            },
            "ReportEventsReply": {
              "fields": {
                "stop": {
                  "type": "bool",
                  "id": 1
                }
              }
            },
            "TrainingOptions": {
              "oneofs": {
                "_checkpointDir": {
                  "oneof": [
                    "checkpointDir"
                  ]
                },
                "_rendezvousTimeoutMs": {
                  "oneof": [
                    "rendezvousTimeoutMs"
                  ]
                }
              },
              "fields": {
                "steps": {
                  "type": "int32",
                  "id": 1
                },
                "seed": {
                  "type": "int32",
                  "id": 2
                },
                "lr": {
                  "type": "double",
                  "id": 3
                },
                "data": {
                  "type": "string",
                  "id": 4
                },
                "checkpointDir": {
                  "type": "string",
                  "id": 5,
                  "protoName": "checkpoint_dir",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "checkpointEvery": {
                  "type": "int32",
                  "id": 6,
                  "protoName": "checkpoint_every"
                },
                "overlap": {
                  "type": "bool",
                  "id": 7
                },
                "maxRestarts": {
                  "type": "int32",
                  "id": 8,
                  "protoName": "max_restarts"
                },
                "rendezvousTimeoutMs": {
                  "type": "int64",
                  "id": 9,
                  "protoName": "rendezvous_timeout_ms",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "SubmitJobRequest": {
              "oneofs": {
                "_jobId": {
                  "oneof": [
                    "jobId"
                  ]
                }
              },
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "planJson": {
                  "type": "string",
                  "id": 2,
                  "protoName": "plan_json"
                },
                "modelJson": {
                  "type": "string",
                  "id": 3,
                  "protoName": "model_json"
                },
                "options": {
                  "type": "TrainingOptions",
                  "id": 4
                }
              }
            },
            "SubmitJobReply": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "planSha256": {
                  "type": "string",
                  "id": 2,
                  "protoName": "plan_sha256"
                },
                "worldSize": {
                  "type": "int32",
                  "id": 3,
                  "protoName": "world_size"
                }
              }
            },
            "StopJobRequest": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "reason": {
                  "type": "string",
                  "id": 2
                }
              }
            },
            "StopJobReply": {
              "fields": {
                "state": {
                  "type": "JobState",
                  "id": 1
                }
              }
            },
            "JobState": {
              "values": {
                "JOB_STATE_UNSPECIFIED": 0,
                "JOB_STATE_WAITING": 1,
                "JOB_STATE_STARTING": 2,
                "JOB_STATE_RUNNING": 3,
                "JOB_STATE_RESTARTING": 4,
                "JOB_STATE_STOPPING": 5,
                "JOB_STATE_SUCCEEDED": 6,
                "JOB_STATE_FAILED": 7,
                "JOB_STATE_STOPPED": 8
              }
            },
            "Failure": {
              "oneofs": {
                "_workerId": {
                  "oneof": [
                    "workerId"
                  ]
                },
                "_rank": {
                  "oneof": [
                    "rank"
                  ]
                }
              },
              "fields": {
                "code": {
                  "type": "string",
                  "id": 1
                },
                "message": {
                  "type": "string",
                  "id": 2
                },
                "workerId": {
                  "type": "string",
                  "id": 3,
                  "protoName": "worker_id",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "rank": {
                  "type": "int32",
                  "id": 4,
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "RankAssignment": {
              "oneofs": {
                "_pid": {
                  "oneof": [
                    "pid"
                  ]
                }
              },
              "fields": {
                "rank": {
                  "type": "int32",
                  "id": 1
                },
                "localRank": {
                  "type": "int32",
                  "id": 2,
                  "protoName": "local_rank"
                },
                "deviceIndex": {
                  "type": "int32",
                  "id": 3,
                  "protoName": "device_index"
                },
                "workerId": {
                  "type": "string",
                  "id": 4,
                  "protoName": "worker_id"
                },
                "pid": {
                  "type": "int32",
                  "id": 5,
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "StepSummary": {
              "oneofs": {
                "_loss": {
                  "oneof": [
                    "loss"
                  ]
                }
              },
              "fields": {
                "step": {
                  "type": "int32",
                  "id": 1
                },
                "loss": {
                  "type": "double",
                  "id": 3,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "timePerIterationMs": {
                  "type": "double",
                  "id": 4,
                  "protoName": "time_per_iteration_ms"
                },
                "computeMs": {
                  "type": "double",
                  "id": 5,
                  "protoName": "compute_ms"
                },
                "exposedCommMs": {
                  "type": "double",
                  "id": 6,
                  "protoName": "exposed_comm_ms"
                },
                "samplesPerSecond": {
                  "type": "double",
                  "id": 7,
                  "protoName": "samples_per_second"
                },
                "tokensPerSecond": {
                  "type": "double",
                  "id": 8,
                  "protoName": "tokens_per_second"
                },
                "memoryBytesPerRank": {
                  "rule": "repeated",
                  "type": "int64",
                  "id": 9,
                  "protoName": "memory_bytes_per_rank"
                }
              },
              "reserved": [
                [
                  2,
                  2
                ],
                "has_loss"
              ]
            },
            "JobStatus": {
              "oneofs": {
                "_lastStep": {
                  "oneof": [
                    "lastStep"
                  ]
                },
                "_lastCheckpointStep": {
                  "oneof": [
                    "lastCheckpointStep"
                  ]
                },
                "_predictedTimePerIterationMs": {
                  "oneof": [
                    "predictedTimePerIterationMs"
                  ]
                },
                "_masterAddr": {
                  "oneof": [
                    "masterAddr"
                  ]
                },
                "_masterPort": {
                  "oneof": [
                    "masterPort"
                  ]
                }
              },
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "state": {
                  "type": "JobState",
                  "id": 2
                },
                "attempt": {
                  "type": "int32",
                  "id": 3
                },
                "worldSize": {
                  "type": "int32",
                  "id": 4,
                  "protoName": "world_size"
                },
                "steps": {
                  "type": "int32",
                  "id": 5
                },
                "lastStep": {
                  "type": "int32",
                  "id": 6,
                  "protoName": "last_step",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "lastCheckpointStep": {
                  "type": "int32",
                  "id": 7,
                  "protoName": "last_checkpoint_step",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "planSha256": {
                  "type": "string",
                  "id": 8,
                  "protoName": "plan_sha256"
                },
                "modelName": {
                  "type": "string",
                  "id": 9,
                  "protoName": "model_name"
                },
                "predictedTimePerIterationMs": {
                  "type": "double",
                  "id": 10,
                  "protoName": "predicted_time_per_iteration_ms",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "ranks": {
                  "rule": "repeated",
                  "type": "RankAssignment",
                  "id": 11
                },
                "failure": {
                  "type": "Failure",
                  "id": 12
                },
                "lastMetrics": {
                  "type": "StepSummary",
                  "id": 13,
                  "protoName": "last_metrics"
                },
                "restarts": {
                  "type": "int32",
                  "id": 14
                },
                "masterAddr": {
                  "type": "string",
                  "id": 15,
                  "protoName": "master_addr",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "masterPort": {
                  "type": "int32",
                  "id": 16,
                  "protoName": "master_port",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "createdAtMs": {
                  "type": "int64",
                  "id": 17,
                  "protoName": "created_at_ms"
                },
                "updatedAtMs": {
                  "type": "int64",
                  "id": 18,
                  "protoName": "updated_at_ms"
                }
              }
            },
            "WorkerStatus": {
              "oneofs": {
                "_jobId": {
                  "oneof": [
                    "jobId"
                  ]
                },
                "_nodeRank": {
                  "oneof": [
                    "nodeRank"
                  ]
                }
              },
              "fields": {
                "workerId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "worker_id"
                },
                "host": {
                  "type": "string",
                  "id": 2
                },
                "address": {
                  "type": "string",
                  "id": 3
                },
                "state": {
                  "type": "WorkerState",
                  "id": 4
                },
                "devices": {
                  "rule": "repeated",
                  "type": "Device",
                  "id": 5
                },
                "lastHeartbeatAtMs": {
                  "type": "int64",
                  "id": 6,
                  "protoName": "last_heartbeat_at_ms"
                },
                "jobId": {
                  "type": "string",
                  "id": 7,
                  "protoName": "job_id",
                  "options": {
                    "proto3_optional": true
                  }
                },
                "nodeRank": {
                  "type": "int32",
                  "id": 8,
                  "protoName": "node_rank",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "GetStatusRequest": {
              "oneofs": {
                "_jobId": {
                  "oneof": [
                    "jobId"
                  ]
                }
              },
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "StatusReply": {
              "fields": {
                "coordinatorId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "coordinator_id"
                },
                "startedAtMs": {
                  "type": "int64",
                  "id": 2,
                  "protoName": "started_at_ms"
                },
                "workers": {
                  "rule": "repeated",
                  "type": "WorkerStatus",
                  "id": 3
                },
                "jobs": {
                  "rule": "repeated",
                  "type": "JobStatus",
                  "id": 4
                }
              }
            },
            "WatchJobRequest": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "afterSeq": {
                  "type": "int64",
                  "id": 2,
                  "protoName": "after_seq"
                }
              }
            },
            "StateChange": {
              "oneofs": {
                "_from": {
                  "oneof": [
                    "from"
                  ]
                }
              },
              "fields": {
                "from": {
                  "type": "JobState",
                  "id": 1,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "to": {
                  "type": "JobState",
                  "id": 2
                },
                "reason": {
                  "type": "string",
                  "id": 3
                }
              }
            },
            "RankLog": {
              "fields": {
                "rank": {
                  "type": "int32",
                  "id": 1
                },
                "workerId": {
                  "type": "string",
                  "id": 2,
                  "protoName": "worker_id"
                },
                "line": {
                  "type": "string",
                  "id": 3
                }
              }
            },
            "JobResult": {
              "oneofs": {
                "_lastStep": {
                  "oneof": [
                    "lastStep"
                  ]
                }
              },
              "fields": {
                "state": {
                  "type": "JobState",
                  "id": 1
                },
                "failure": {
                  "type": "Failure",
                  "id": 2
                },
                "lastStep": {
                  "type": "int32",
                  "id": 3,
                  "protoName": "last_step",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "JobEvent": {
              "oneofs": {
                "kind": {
                  "oneof": [
                    "state",
                    "step",
                    "log",
                    "checkpoint",
                    "result"
                  ]
                }
              },
              "fields": {
                "seq": {
                  "type": "int64",
                  "id": 1
                },
                "jobId": {
                  "type": "string",
                  "id": 2,
                  "protoName": "job_id"
                },
                "timeMs": {
                  "type": "int64",
                  "id": 3,
                  "protoName": "time_ms"
                },
                "state": {
                  "type": "StateChange",
                  "id": 10
                },
                "step": {
                  "type": "StepSummary",
                  "id": 11
                },
                "log": {
                  "type": "RankLog",
                  "id": 12
                },
                "checkpoint": {
                  "type": "CheckpointEvent",
                  "id": 13
                },
                "result": {
                  "type": "JobResult",
                  "id": 14
                }
              }
            },
            "PrepareRequest": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "attempt": {
                  "type": "int32",
                  "id": 2
                }
              }
            },
            "PrepareReply": {
              "fields": {
                "masterPort": {
                  "type": "int32",
                  "id": 1,
                  "protoName": "master_port"
                }
              }
            },
            "StartRequest": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "attempt": {
                  "type": "int32",
                  "id": 2
                },
                "planJson": {
                  "type": "string",
                  "id": 3,
                  "protoName": "plan_json"
                },
                "planSha256": {
                  "type": "string",
                  "id": 4,
                  "protoName": "plan_sha256"
                },
                "modelJson": {
                  "type": "string",
                  "id": 5,
                  "protoName": "model_json"
                },
                "options": {
                  "type": "TrainingOptions",
                  "id": 6
                },
                "resume": {
                  "type": "bool",
                  "id": 7
                },
                "worldSize": {
                  "type": "int32",
                  "id": 8,
                  "protoName": "world_size"
                },
                "masterAddr": {
                  "type": "string",
                  "id": 9,
                  "protoName": "master_addr"
                },
                "masterPort": {
                  "type": "int32",
                  "id": 10,
                  "protoName": "master_port"
                },
                "backend": {
                  "type": "string",
                  "id": 11
                },
                "ranks": {
                  "rule": "repeated",
                  "type": "RankAssignment",
                  "id": 12
                }
              }
            },
            "StartReply": {
              "fields": {
                "planSha256": {
                  "type": "string",
                  "id": 1,
                  "protoName": "plan_sha256"
                },
                "processes": {
                  "rule": "repeated",
                  "type": "RankProcess",
                  "id": 2
                }
              }
            },
            "WorkerStopRequest": {
              "fields": {
                "jobId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "job_id"
                },
                "attempt": {
                  "type": "int32",
                  "id": 2
                },
                "reason": {
                  "type": "string",
                  "id": 3
                }
              }
            },
            "WorkerStopReply": {
              "fields": {
                "stopped": {
                  "type": "int32",
                  "id": 1
                }
              }
            },
            "ShutdownRequest": {
              "fields": {
                "reason": {
                  "type": "string",
                  "id": 1
                }
              }
            },
            "ShutdownReply": {
              "fields": {}
            }
          }
        }
      }
    }
  }
};
