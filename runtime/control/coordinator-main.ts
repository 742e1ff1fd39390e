// A coordinator served over gRPC with its Redis store: what `uniap coordinator` runs, and what
// `uniap launch` starts in its own process.
import { Coordinator } from './coordinator.ts';
import { GrpcTransport, type TlsFiles } from './grpc-transport.ts';
import { RedisJobStore } from './job-store.ts';
import type { LogFn } from './state-machine.ts';
import type { ServerHandle } from './transport.ts';

export interface CoordinatorServiceOptions {
  redisUrl: string;
  /** Key prefix in Redis: one per coordinator (a restarted coordinator uses the same). */
  redisPrefix: string;
  token: string;
  tls: TlsFiles | null;
  host: string;
  port: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  log: LogFn;
}

export interface CoordinatorService {
  coordinator: Coordinator;
  /** host:port clients on this machine use. */
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startCoordinatorService(o: CoordinatorServiceOptions): Promise<CoordinatorService> {
  const store = await RedisJobStore.connect(o.redisUrl, o.redisPrefix);
  const transport = new GrpcTransport({ token: o.token, tls: o.tls });
  let coordinator: Coordinator | null = null;
  let server: ServerHandle | null = null;
  try {
    coordinator = await Coordinator.start({
      store,
      transport,
      log: o.log,
      ...(o.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
      ...(o.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: o.heartbeatTimeoutMs } : {}),
    });
    server = await transport.serveCoordinator(coordinator, { host: o.host, port: o.port });
  } catch (e) {
    await coordinator?.close();
    await store.close();
    throw e;
  }
  const c = coordinator;
  const s = server;
  o.log(`coordinator ${c.coordinatorId} listening on ${o.host}:${s.port} (Redis ${o.redisUrl}, prefix ${o.redisPrefix}${o.tls ? ', TLS' : ''})`);
  return {
    coordinator: c,
    address: s.address,
    port: s.port,
    close: async () => {
      await c.close();
      await s.close();
      await store.close();
    },
  };
}
