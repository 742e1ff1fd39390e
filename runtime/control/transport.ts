// The transport interface the control plane depends on: how the coordinator, the worker agents and
// the CLI call each other, in domain types. Two implementations share it: grpc-transport.ts (real
// gRPC, what the product uses) and memory-transport.ts (in one process, for unit tests of the state
// machines). Both check the job token on every call with `verifyToken` below.
import { createHash, timingSafeEqual } from 'node:crypto';
import { UniapError } from '../../common/errors.ts';
import type {
  CoordinatorStatus,
  ExecutorEvent,
  Heartbeat,
  HeartbeatResult,
  JobEvent,
  JobState,
  JobSubmission,
  RegisterResult,
  Registration,
  StartResult,
  SubmitResult,
  WorkerShare,
} from './types.ts';

/** Served by the coordinator; a CoordinatorClient calls the same methods remotely. */
export interface CoordinatorApi {
  register(r: Registration): Promise<RegisterResult>;
  heartbeat(h: Heartbeat): Promise<HeartbeatResult>;
  /** `stop`: the job the events belong to is over; the worker ends its executors. */
  reportEvents(workerId: string, events: ExecutorEvent[]): Promise<{ stop: boolean }>;
  submitJob(s: JobSubmission): Promise<SubmitResult>;
  stopJob(jobId: string, reason: string): Promise<JobState>;
  /** jobId null: every job. */
  getStatus(jobId: string | null): Promise<CoordinatorStatus>;
  /**
   * Delivers the job's events with seq > afterSeq, history first, then live; resolves after the
   * `result` event, or when `signal` aborts.
   */
  watchJob(jobId: string, afterSeq: number, onEvent: (e: JobEvent) => void, signal: AbortSignal): Promise<void>;
}

/** Served by each worker agent; the coordinator calls it. */
export interface WorkerApi {
  /** A free TCP port on the worker's host for torch.distributed (MASTER_PORT). */
  prepare(jobId: string, attempt: number): Promise<{ masterPort: number }>;
  start(share: WorkerShare): Promise<StartResult>;
  /** Ends the job's executors (SIGTERM, SIGKILL after the grace period); resolves once they are gone. */
  stop(jobId: string, attempt: number, reason: string): Promise<{ stopped: number }>;
  /** Ends the executors, then the agent. */
  shutdown(reason: string): Promise<void>;
}

export interface Closable {
  close(): void;
}
export type CoordinatorClient = CoordinatorApi & Closable;
export type WorkerClient = WorkerApi & Closable;

export interface ServeOptions {
  /** Interface to bind: "127.0.0.1" for one machine, "0.0.0.0" to accept other hosts. */
  host: string;
  /** 0: any free port. */
  port: number;
}

export interface ServerHandle {
  /** host:port the server listens on (port resolved when 0 was asked). */
  readonly address: string;
  readonly port: number;
  /** Stop accepting calls; in-flight calls and streams are cut. */
  close(): Promise<void>;
}

export interface Transport {
  serveCoordinator(api: CoordinatorApi, options: ServeOptions): Promise<ServerHandle>;
  serveWorker(api: WorkerApi, options: ServeOptions): Promise<ServerHandle>;
  coordinatorClient(address: string): CoordinatorClient;
  workerClient(address: string): WorkerClient;
}

/** Why a call failed below the application: the peer was unreachable, too slow, or the call was malformed. */
export type RpcFailure = 'unavailable' | 'deadline-exceeded' | 'cancelled' | 'invalid-argument' | 'internal';

export class RpcError extends Error {
  readonly failure: RpcFailure;
  constructor(failure: RpcFailure, message: string) {
    super(message);
    this.name = 'RpcError';
    this.failure = failure;
  }
}

/** The peer could not be reached (or went away mid-call): the caller may retry later. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof RpcError && (e.failure === 'unavailable' || e.failure === 'deadline-exceeded' || e.failure === 'cancelled');
}

export const TOKEN_METADATA_KEY = 'authorization';
export const TOKEN_ENV = 'UNIAP_TOKEN';

export function tokenHeader(token: string): string {
  return `Bearer ${token}`;
}

/**
 * Throws UNAUTHENTICATED unless `header` carries `expected`. Constant-time on the token (compares
 * sha256 digests, so lengths do not leak either).
 */
export function verifyToken(header: string | null | undefined, expected: string, what: string): void {
  if (!header) {
    throw new UniapError('UNAUTHENTICATED', `${what}: the call carries no job token; pass the token \`uniap launch\` printed (--token or ${TOKEN_ENV})`);
  }
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : header;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  if (!timingSafeEqual(a, b)) {
    throw new UniapError('UNAUTHENTICATED', `${what}: wrong job token; use the token of this launch (--token or ${TOKEN_ENV})`);
  }
}
