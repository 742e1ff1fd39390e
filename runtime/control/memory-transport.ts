// An in-process Transport for unit tests of the coordinator and worker state machines: calls go
// through a MemoryNetwork instead of sockets. It keeps what matters about a network: arguments and
// results are copied (structuredClone, as serialization would), every call checks the job token,
// application errors keep their code, and a closed server is unreachable (RpcError 'unavailable').
// A transport can be cut off (`partition`) to model a host that stopped answering.
// Integration tests and the product use grpc-transport.ts.
import { UniapError, isUniapError } from '../../common/errors.ts';
import {
  RpcError,
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

interface Endpoint {
  kind: 'coordinator' | 'worker';
  api: CoordinatorApi | WorkerApi;
  token: string;
  /** The host (transport name) serving it. */
  host: string;
  streams: Set<AbortController>;
}

export class MemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly cut = new Set<string>();
  private nextPort = 1;

  /** A transport for one host; `host` names it for `partition`. */
  transport(token: string, host = 'host'): Transport {
    return new MemoryTransport(this, token, host);
  }

  /** Calls from and to `host` fail as unreachable until `heal`. */
  partition(host: string): void {
    this.cut.add(host);
    for (const ep of this.endpoints.values()) if (ep.host === host) for (const s of ep.streams) s.abort();
  }

  heal(host: string): void {
    this.cut.delete(host);
  }

  /** @internal */
  listen(kind: Endpoint['kind'], api: CoordinatorApi | WorkerApi, token: string, host: string, options: ServeOptions): ServerHandle {
    const port = options.port || this.nextPort++;
    const address = `${options.host}:${port}`;
    if (this.endpoints.has(address)) throw new RpcError('unavailable', `address ${address} is in use`);
    const ep: Endpoint = { kind, api, token, host, streams: new Set() };
    this.endpoints.set(address, ep);
    return {
      address,
      port,
      close: async () => {
        if (this.endpoints.get(address) === ep) this.endpoints.delete(address);
        for (const s of ep.streams) s.abort();
      },
    };
  }

  /** @internal */
  async call<T>(from: string, address: string, kind: Endpoint['kind'], token: string, method: string, invoke: (api: never, ep: Endpoint) => Promise<T>): Promise<T> {
    await new Promise((r) => setImmediate(r));
    const ep = this.endpoints.get(address);
    if (!ep || ep.kind !== kind) throw new RpcError('unavailable', `${method}: nothing listens at ${address}`);
    if (this.cut.has(from) || this.cut.has(ep.host)) throw new RpcError('unavailable', `${method}: ${address} is unreachable (partitioned)`);
    verifyToken(tokenHeader(token), ep.token, method);
    try {
      const result = await invoke(ep.api as never, ep);
      if (this.endpoints.get(address) !== ep || this.cut.has(from) || this.cut.has(ep.host)) throw new RpcError('unavailable', `${method}: ${address} went away`);
      return result === undefined ? result : structuredClone(result);
    } catch (e) {
      if (isUniapError(e)) throw new UniapError(e.code, e.message, structuredClone(e.detail), e.exitCode);
      if (e instanceof RpcError) throw new RpcError(e.failure, e.message);
      throw new RpcError('internal', `${method}: ${(e as Error).message}`);
    }
  }
}

class MemoryTransport implements Transport {
  constructor(
    private readonly net: MemoryNetwork,
    private readonly token: string,
    private readonly host: string,
  ) {}

  async serveCoordinator(api: CoordinatorApi, options: ServeOptions): Promise<ServerHandle> {
    return this.net.listen('coordinator', api, this.token, this.host, options);
  }

  async serveWorker(api: WorkerApi, options: ServeOptions): Promise<ServerHandle> {
    return this.net.listen('worker', api, this.token, this.host, options);
  }

  coordinatorClient(address: string): CoordinatorClient {
    const c = <T>(method: string, f: (api: CoordinatorApi, ep: Endpoint) => Promise<T>): Promise<T> =>
      this.net.call(this.host, address, 'coordinator', this.token, method, f as (api: never, ep: Endpoint) => Promise<T>);
    const clone = structuredClone;
    return {
      register: (r) => c('Register', (api) => api.register(clone(r))),
      heartbeat: (h) => c('Heartbeat', (api) => api.heartbeat(clone(h))),
      reportEvents: (id, ev) => c('ReportEvents', (api) => api.reportEvents(id, clone(ev))),
      submitJob: (s) => c('SubmitJob', (api) => api.submitJob(clone(s))),
      stopJob: (id, reason) => c('StopJob', (api) => api.stopJob(id, reason)),
      getStatus: (id) => c('GetStatus', (api) => api.getStatus(id)),
      watchJob: (id, after, onEvent, signal) =>
        c('WatchJob', async (api, ep) => {
          const ac = new AbortController();
          const onAbort = (): void => ac.abort();
          signal.addEventListener('abort', onAbort);
          ep.streams.add(ac);
          try {
            await api.watchJob(id, after, (e) => onEvent(clone(e)), ac.signal);
            if (ac.signal.aborted && !signal.aborted) throw new RpcError('unavailable', `WatchJob: ${address} went away`);
          } finally {
            ep.streams.delete(ac);
            signal.removeEventListener('abort', onAbort);
          }
        }),
      close: () => {},
    };
  }

  workerClient(address: string): WorkerClient {
    const c = <T>(method: string, f: (api: WorkerApi) => Promise<T>): Promise<T> =>
      this.net.call(this.host, address, 'worker', this.token, method, f as (api: never, ep: Endpoint) => Promise<T>);
    return {
      prepare: (id, attempt) => c('Prepare', (api) => api.prepare(id, attempt)),
      start: (share) => c('Start', (api) => api.start(structuredClone(share))),
      stop: (id, attempt, reason) => c('Stop', (api) => api.stop(id, attempt, reason)),
      shutdown: (reason) => c('Shutdown', (api) => api.shutdown(reason)),
      close: () => {},
    };
  }
}
