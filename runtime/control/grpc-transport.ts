// The Transport over real gRPC (@grpc/grpc-js): the services of protos/uniap.proto, loaded from the
// generated descriptor, with the job token checked on every call and TLS (mutual, when a CA is given)
// on request. Messages are converted with wire.ts; application errors (UniapError) cross the wire as
// a gRPC status plus the `uniap-error-code` trailer and are rebuilt with the same code on the client.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { UniapError, isUniapError, type ErrorCode } from '../../common/errors.ts';
import {
  COORDINATOR_SERVICE,
  LOADER_OPTIONS,
  PROTO_DESCRIPTOR,
  WORKER_SERVICE,
  type CoordinatorMethods,
  type WorkerMethods,
} from './generated/uniap.ts';
import {
  RpcError,
  TOKEN_METADATA_KEY,
  tokenHeader,
  verifyToken,
  type CoordinatorApi,
  type CoordinatorClient,
  type ServeOptions,
  type ServerHandle,
  type Transport,
  type WorkerApi,
  type WorkerClient,
} from './transport.ts';
import * as wire from './wire.ts';

/** PEM files for TLS. cert + key identify this process; ca verifies the peer (and makes TLS mutual). */
export interface TlsFiles {
  certPath: string;
  keyPath: string;
  caPath: string;
}

export interface GrpcTransportOptions {
  token: string;
  tls: TlsFiles | null;
  /** Deadline of unary calls, ms. */
  callTimeoutMs?: number;
}

// Plans and model specs of large models are a few MB; the default 4 MiB receive limit is too tight.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Reconnect quickly to a restarted coordinator (defaults back off up to 120 s).
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
};
const ERROR_CODE_TRAILER = 'uniap-error-code';

const packageDefinition = protoLoader.fromJSON(PROTO_DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0], { ...LOADER_OPTIONS });
const coordinatorDefinition = packageDefinition[COORDINATOR_SERVICE] as grpc.ServiceDefinition;
const workerDefinition = packageDefinition[WORKER_SERVICE] as grpc.ServiceDefinition;
const CoordinatorStub = grpc.makeGenericClientConstructor(coordinatorDefinition, 'Coordinator');
const WorkerStub = grpc.makeGenericClientConstructor(workerDefinition, 'Worker');

type MethodTable<M> = { [K in keyof M]: { request: unknown; response: unknown } };

// ---------------------------------------------------------------- errors

function toStatus(e: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (isUniapError(e)) {
    metadata.set(ERROR_CODE_TRAILER, e.code);
    const code: Partial<Record<ErrorCode, grpc.status>> = {
      UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
      CONFIG_INVALID: grpc.status.INVALID_ARGUMENT,
      FILE_NOT_FOUND: grpc.status.NOT_FOUND,
    };
    return { code: code[e.code] ?? grpc.status.FAILED_PRECONDITION, details: e.message, metadata };
  }
  if (e instanceof RpcError && e.failure === 'invalid-argument') return { code: grpc.status.INVALID_ARGUMENT, details: e.message, metadata };
  return { code: grpc.status.INTERNAL, details: (e as Error)?.message ?? String(e), metadata };
}

function fromStatus(e: grpc.ServiceError, method: string, address: string): Error {
  const appCode = e.metadata?.get(ERROR_CODE_TRAILER)[0];
  if (typeof appCode === 'string' && wire.isErrorCode(appCode)) return new UniapError(appCode, e.details);
  switch (e.code) {
    case grpc.status.UNAUTHENTICATED:
      return new UniapError('UNAUTHENTICATED', e.details);
    case grpc.status.UNAVAILABLE:
      return new RpcError('unavailable', `${method} to ${address}: ${e.details}`);
    case grpc.status.DEADLINE_EXCEEDED:
      return new RpcError('deadline-exceeded', `${method} to ${address}: no answer in time`);
    case grpc.status.CANCELLED:
      return new RpcError('cancelled', `${method} to ${address}: cancelled`);
    case grpc.status.INVALID_ARGUMENT:
      return new RpcError('invalid-argument', e.details);
    default:
      return new RpcError('internal', `${method} to ${address}: ${e.details}`);
  }
}

// ---------------------------------------------------------------- servers

type UnaryImpl<M extends MethodTable<M>> = { [K in keyof M]?: (req: M[K]['request']) => Promise<M[K]['response']> };

function unaryHandlers<M extends MethodTable<M>>(token: string, impl: UnaryImpl<M>): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(impl)) {
    if (!fn) continue;
    const handler: grpc.handleUnaryCall<unknown, unknown> = (call, callback) => {
      try {
        verifyToken(call.metadata.get(TOKEN_METADATA_KEY)[0] as string | undefined, token, name);
      } catch (e) {
        callback(toStatus(e));
        return;
      }
      (fn as (req: unknown) => Promise<unknown>)(call.request).then(
        (res) => callback(null, res),
        (e: unknown) => callback(toStatus(e)),
      );
    };
    out[name] = handler;
  }
  return out;
}

function serverCredentials(tls: TlsFiles | null): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const f = readTls(tls);
  // A CA makes the server require and verify client certificates (mutual TLS).
  return grpc.ServerCredentials.createSsl(f.ca, [{ cert_chain: f.cert, private_key: f.key }], true);
}

function channelCredentials(tls: TlsFiles | null): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const f = readTls(tls);
  return grpc.credentials.createSsl(f.ca, f.key, f.cert);
}

function readTls(tls: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer } {
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new UniapError('FILE_NOT_FOUND', `${flag} ${path} cannot be read (${(e as Error).message}); pass a PEM file`);
    }
  };
  return { cert: read(tls.certPath, '--tls-cert'), key: read(tls.keyPath, '--tls-key'), ca: read(tls.caPath, '--tls-ca') };
}

async function serve(definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation, tls: TlsFiles | null, options: ServeOptions): Promise<ServerHandle> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  server.addService(definition, impl);
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${hostPart}:${options.port}`, serverCredentials(tls), (err, p) => (err ? reject(new UniapError('CONFIG_INVALID', `cannot listen on ${hostPart}:${options.port}: ${err.message}; choose another --port`)) : resolve(p)));
  });
  return {
    address: `${options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

// ---------------------------------------------------------------- clients

class Caller<M extends MethodTable<M>> {
  constructor(
    private readonly client: grpc.Client,
    private readonly definition: grpc.ServiceDefinition,
    private readonly token: string,
    private readonly address: string,
    private readonly timeoutMs: number,
  ) {}

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(TOKEN_METADATA_KEY, tokenHeader(this.token));
    return md;
  }

  unary<K extends keyof M & string>(method: K, req: M[K]['request'], timeoutMs = this.timeoutMs): Promise<M[K]['response']> {
    const d = this.definition[method];
    if (!d) throw new Error(`unknown method ${method}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        d.path,
        d.requestSerialize as (v: M[K]['request']) => Buffer,
        d.responseDeserialize as (b: Buffer) => M[K]['response'],
        req,
        this.metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(fromStatus(err, method, this.address)) : resolve(res as M[K]['response'])),
      );
    });
  }

  stream<K extends keyof M & string>(method: K, req: M[K]['request'], onMessage: (m: M[K]['response']) => void, signal: AbortSignal): Promise<void> {
    const d = this.definition[method];
    if (!d) throw new Error(`unknown method ${method}`);
    return new Promise((resolve, reject) => {
      const call = this.client.makeServerStreamRequest(
        d.path,
        d.requestSerialize as (v: M[K]['request']) => Buffer,
        d.responseDeserialize as (b: Buffer) => M[K]['response'],
        req,
        this.metadata(),
      );
      const onAbort = (): void => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (m: M[K]['response']) => {
        try {
          onMessage(m);
        } catch (e) {
          call.cancel();
          reject(e);
        }
      });
      call.on('error', (e: grpc.ServiceError) => {
        signal.removeEventListener('abort', onAbort);
        if (e.code === grpc.status.CANCELLED && signal.aborted) resolve();
        else reject(fromStatus(e, method, this.address));
      });
      call.on('end', () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

export class GrpcTransport implements Transport {
  private readonly callTimeoutMs: number;
  constructor(private readonly options: GrpcTransportOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 15_000;
    if (options.tls) readTls(options.tls); // fail at startup, not on the first call
  }

  serveCoordinator(api: CoordinatorApi, options: ServeOptions): Promise<ServerHandle> {
    const unary = unaryHandlers<CoordinatorMethods>(this.options.token, {
      Register: async (req) => wire.encodeRegisterResult(await api.register(wire.decodeRegistration(req))),
      Heartbeat: async (req) => wire.encodeHeartbeatResult(await api.heartbeat(wire.decodeHeartbeat(req))),
      ReportEvents: async (req) => {
        const { workerId, events } = wire.decodeReportEvents(req);
        return await api.reportEvents(workerId, events);
      },
      SubmitJob: async (req) => wire.encodeSubmitResult(await api.submitJob(wire.decodeSubmission(req))),
      StopJob: async (req) => ({ state: wire.encodeJobState(await api.stopJob(req.jobId, req.reason)) }),
      GetStatus: async (req) => wire.encodeCoordinatorStatus(await api.getStatus(req.jobId ?? null)),
    });
    const token = this.options.token;
    const watch: grpc.handleServerStreamingCall<CoordinatorMethods['WatchJob']['request'], CoordinatorMethods['WatchJob']['response']> = (call) => {
      try {
        verifyToken(call.metadata.get(TOKEN_METADATA_KEY)[0] as string | undefined, token, 'WatchJob');
      } catch (e) {
        call.emit('error', toStatus(e));
        return;
      }
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      call.on('close', () => ac.abort());
      api
        .watchJob(call.request.jobId, call.request.afterSeq, (e) => call.write(wire.encodeJobEvent(e)), ac.signal)
        .then(
          () => call.end(),
          (e: unknown) => call.emit('error', toStatus(e)),
        );
    };
    return serve(coordinatorDefinition, { ...unary, WatchJob: watch }, this.options.tls, options);
  }

  serveWorker(api: WorkerApi, options: ServeOptions): Promise<ServerHandle> {
    const impl = unaryHandlers<WorkerMethods>(this.options.token, {
      Prepare: async (req) => api.prepare(req.jobId, req.attempt),
      Start: async (req) => wire.encodeStartResult(await api.start(wire.decodeShare(req))),
      Stop: async (req) => api.stop(req.jobId, req.attempt, req.reason),
      Shutdown: async (req) => {
        await api.shutdown(req.reason);
        return {};
      },
    });
    return serve(workerDefinition, impl, this.options.tls, options);
  }

  coordinatorClient(address: string): CoordinatorClient {
    const client = new CoordinatorStub(address, channelCredentials(this.options.tls), CHANNEL_OPTIONS);
    const c = new Caller<CoordinatorMethods>(client, coordinatorDefinition, this.options.token, address, this.callTimeoutMs);
    return {
      register: async (r) => wire.decodeRegisterResult(await c.unary('Register', wire.encodeRegistration(r))),
      heartbeat: async (h) => wire.decodeHeartbeatResult(await c.unary('Heartbeat', wire.encodeHeartbeat(h))),
      reportEvents: async (id, events) => c.unary('ReportEvents', wire.encodeReportEvents(id, events)),
      submitJob: async (s) => wire.decodeSubmitResult(await c.unary('SubmitJob', wire.encodeSubmission(s))),
      stopJob: async (id, reason) => wire.decodeJobState((await c.unary('StopJob', { jobId: id, reason })).state),
      getStatus: async (id) => wire.decodeCoordinatorStatus(await c.unary('GetStatus', { jobId: id })),
      watchJob: (id, afterSeq, onEvent, signal) => c.stream('WatchJob', { jobId: id, afterSeq }, (m) => onEvent(wire.decodeJobEvent(m)), signal),
      close: () => client.close(),
    };
  }

  workerClient(address: string): WorkerClient {
    const client = new WorkerStub(address, channelCredentials(this.options.tls), CHANNEL_OPTIONS);
    const c = new Caller<WorkerMethods>(client, workerDefinition, this.options.token, address, this.callTimeoutMs);
    return {
      prepare: async (id, attempt) => c.unary('Prepare', { jobId: id, attempt }),
      start: async (share) => wire.decodeStartResult(await c.unary('Start', wire.encodeShare(share), this.callTimeoutMs * 2)),
      // Stop waits for the executors to end (grace period + SIGKILL); give it longer.
      stop: async (id, attempt, reason) => c.unary('Stop', { jobId: id, attempt, reason }, this.callTimeoutMs * 2),
      shutdown: async (reason) => {
        await c.unary('Shutdown', { reason });
      },
      close: () => client.close(),
    };
  }
}
