// `uniap worker` as a function: resolves the interpreter and the devices, checks Python, starts a
// WorkerAgent over gRPC and ends it on SIGTERM/SIGINT. cli/worker.ts parses flags into WorkerRunOptions.
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UniapError } from '../../common/errors.ts';
import { checkPython, declaredDevices, detectDevices, resolveExecutorRoot } from './executor-process.ts';
import { choosePython } from '../../common/python.ts';
import { GrpcTransport, type TlsFiles } from './grpc-transport.ts';
import type { DeviceInfo } from './types.ts';
import { WorkerAgent, type WorkerExit } from './worker-agent.ts';

export interface WorkerRunOptions {
  coordinator: string;
  token: string;
  /** Count of devices (indices 0..n-1); null: ask torch. */
  devices: number | null;
  /** Explicit GPU indices (overrides `devices`). */
  deviceIds: number[] | null;
  deviceKind: 'cpu' | 'gpu' | null;
  /** Address peers reach this host at; null: the host name. */
  advertiseHost: string | null;
  listenHost: string;
  port: number;
  nodeRank: number | null;
  workerId: string | null;
  python: string | null;
  tls: TlsFiles | null;
  stopGraceMs: number;
  connectTimeoutMs: number;
  /** null: a new temporary directory. Removed when the agent exits. */
  workDir: string | null;
  log: (line: string) => void;
}

export async function resolveDevices(o: Pick<WorkerRunOptions, 'devices' | 'deviceIds' | 'deviceKind'>, python: string): Promise<DeviceInfo[]> {
  if (o.deviceIds !== null) {
    if (o.deviceIds.length === 0) throw new UniapError('CONFIG_INVALID', '--device-ids is empty; list device indices, e.g. --device-ids 0,1');
    return o.deviceIds.map((index) => ({ index, kind: o.deviceKind ?? 'gpu', name: o.deviceKind ?? 'gpu', memoryBytes: null }));
  }
  if (o.devices !== null) return declaredDevices(o.devices, o.deviceKind ?? 'cpu');
  const found = await detectDevices(python);
  if (o.deviceKind === 'cpu') return declaredDevices(1, 'cpu');
  if (o.deviceKind === 'gpu' && found[0]?.kind !== 'gpu') {
    throw new UniapError('TOOL_MISSING', `--device-kind gpu but torch (${python}) sees no CUDA device; check the driver, or use --device-kind cpu`);
  }
  return found;
}

/** Runs the agent until it exits (shutdown, SIGTERM, or the coordinator went away). */
export async function runWorker(o: WorkerRunOptions): Promise<WorkerExit> {
  const python = choosePython(o.python);
  const executorRoot = resolveExecutorRoot();
  const py = await checkPython(python, executorRoot, { requireTorch: true });
  const devices = await resolveDevices(o, python);
  const host = o.advertiseHost ?? hostname();
  const agent = new WorkerAgent({
    transport: new GrpcTransport({ token: o.token, tls: o.tls }),
    coordinatorAddress: o.coordinator,
    workerId: o.workerId,
    host,
    listenHost: o.listenHost,
    listenPort: o.port,
    devices,
    nodeRank: o.nodeRank,
    python,
    executorRoot,
    workDir: o.workDir ?? mkdtempSync(join(tmpdir(), 'uniap-worker-')),
    stopGraceMs: o.stopGraceMs,
    connectTimeoutMs: o.connectTimeoutMs,
    version: `uniap worker, Python ${py.version}`,
    log: o.log,
  });
  o.log(`worker: ${devices.length} ${devices[0]?.kind} device(s), python ${python} (${py.version}), executor ${executorRoot}, coordinator ${o.coordinator}`);
  const onSignal = (sig: NodeJS.Signals): void => {
    agent.exit(0, `received ${sig}`).catch((e: unknown) => o.log(`worker: ending failed: ${(e as Error).message}`));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    return await agent.serve();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
