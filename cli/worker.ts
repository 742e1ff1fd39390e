// `uniap worker --coordinator HOST:PORT`: the worker agent of one node. Registers its devices, runs one
// executor per assigned rank, forwards their metrics and logs, ends them on stop or when the
// coordinator goes away. Also runs as a program on its own (`node --import tsx/esm cli/worker.ts`),
// which is how `uniap launch` starts workers.
import type { CommandModule } from 'yargs';
import { UniapError } from '../common/errors.ts';
import { integerList, requireToken, tlsFromFlags } from '../runtime/control/flags.ts';
import { parseHostPort } from '../common/ports.ts';
import { isMainModule, runStandalone } from '../common/processes.ts';
import { runWorker } from '../runtime/control/worker-main.ts';

interface WorkerArgs {
  coordinator: string;
  token?: string;
  devices?: number;
  'device-ids'?: string;
  'device-kind'?: 'cpu' | 'gpu';
  host?: string;
  'listen-host': string;
  port: number;
  'node-rank'?: number;
  id?: string;
  python?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'stop-grace-ms': number;
  'connect-timeout-ms': number;
  'work-dir'?: string;
  quiet: boolean;
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'Run the worker agent of this node: executes its share of jobs for a coordinator',
  builder: (y) =>
    y
      .option('coordinator', { type: 'string', demandOption: true, describe: 'HOST:PORT of the coordinator' })
      .option('token', { type: 'string', describe: 'Job token (prefer the UNIAP_TOKEN environment variable: it stays out of the process list)' })
      .option('devices', { type: 'number', describe: 'Number of devices to offer (indices 0..N-1); default: what torch sees (every GPU, else 1 CPU)' })
      .option('device-ids', { type: 'string', describe: 'Comma list of GPU indices to offer, e.g. 2,3' })
      .option('device-kind', { choices: ['cpu', 'gpu'] as const, describe: 'Kind of the offered devices' })
      .option('host', { type: 'string', describe: 'Address other hosts reach this one at (torch.distributed MASTER_ADDR); default: the host name' })
      .option('listen-host', { type: 'string', default: '0.0.0.0', describe: 'Interface the Worker service listens on' })
      .option('port', { type: 'number', default: 0, describe: 'Port of the Worker service (0: any free one)' })
      .option('node-rank', { type: 'number', describe: 'Position of this node in rank order (default: registration order)' })
      .option('id', { type: 'string', describe: 'Worker id (default: HOST-PID)' })
      .option('python', { type: 'string', describe: 'Python interpreter with torch (default: $UNIAP_PYTHON, else /usr/bin/python3)' })
      .option('tls-cert', { type: 'string', describe: 'PEM certificate of this worker (TLS with --tls-key and --tls-ca)' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert' })
      .option('tls-ca', { type: 'string', describe: 'PEM CA that signed the coordinator and worker certificates' })
      .option('stop-grace-ms', { type: 'number', default: 5000, describe: 'SIGTERM to SIGKILL of executors on stop' })
      .option('connect-timeout-ms', { type: 'number', default: 120_000, describe: 'Give up when no coordinator answers for this long' })
      .option('work-dir', { type: 'string', describe: 'Directory for the plan and model files of each job (default: a new temporary one); removed on exit' })
      .option('quiet', { type: 'boolean', default: false, describe: 'Do not log state transitions' })
      .check((a) => {
        for (const k of ['devices', 'port', 'node-rank', 'stop-grace-ms', 'connect-timeout-ms'] as const) {
          const v = a[k];
          if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`--${k} must be a non-negative integer, got ${v}`);
        }
        if (a.devices === 0) throw new Error('--devices must be at least 1');
        return true;
      })
      .example('UNIAP_TOKEN=... uniap worker --coordinator 10.0.0.1:50051', 'offer every GPU torch sees')
      .example('UNIAP_TOKEN=... uniap worker --coordinator 127.0.0.1:50051 --devices 2 --device-kind cpu', 'two CPU ranks') as never,
  handler: async (a) => {
    parseHostPort(a.coordinator, '--coordinator');
    const token = requireToken(a.token, 'uniap worker');
    const log = a.quiet ? () => {} : (line: string) => process.stderr.write(`[uniap worker ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
    const exit = await runWorker({
      coordinator: a.coordinator,
      token,
      devices: a.devices ?? null,
      deviceIds: integerList(a['device-ids'], '--device-ids'),
      deviceKind: a['device-kind'] ?? null,
      advertiseHost: a.host ?? null,
      listenHost: a['listen-host'],
      port: a.port,
      nodeRank: a['node-rank'] ?? null,
      workerId: a.id ?? null,
      python: a.python ?? null,
      tls: tlsFromFlags({ tlsCert: a['tls-cert'], tlsKey: a['tls-key'], tlsCa: a['tls-ca'] }),
      stopGraceMs: a['stop-grace-ms'],
      connectTimeoutMs: a['connect-timeout-ms'],
      workDir: a['work-dir'] ?? null,
      log,
    });
    if (exit.code !== 0) throw new UniapError('WORKER_LOST', exit.reason, {}, exit.code);
    log(exit.reason);
  },
};

if (isMainModule(import.meta.url)) await runStandalone('worker', workerCommand);
