// `uniap coordinator`: serve the coordinator (membership, jobs, rendezvous, metrics) with its state in
// Redis; `uniap coordinator status` / `stop` query or stop jobs of a running one. Also runs as a
// program on its own (`node --import tsx/esm cli/coordinator.ts`), which the Slurm script uses.
import { randomBytes } from 'node:crypto';
import type { CommandModule } from 'yargs';
import { UniapError } from '../common/errors.ts';
import { startCoordinatorService } from '../runtime/control/coordinator-main.ts';
import { requireToken, tlsFromFlags, tokenFromFlags } from '../runtime/control/flags.ts';
import { GrpcTransport } from '../runtime/control/grpc-transport.ts';
import { parseHostPort } from '../common/ports.ts';
import { isMainModule, runStandalone } from '../common/processes.ts';
import { formatFailure, formatMs } from '../runtime/control/progress.ts';
import { TOKEN_ENV } from '../runtime/control/transport.ts';
import type { CoordinatorStatus } from '../runtime/control/types.ts';

interface CoordinatorArgs {
  action: 'serve' | 'status' | 'stop';
  host: string;
  port: number;
  redis: string;
  'redis-prefix': string;
  token?: string;
  'heartbeat-interval-ms': number;
  'heartbeat-timeout-ms': number;
  coordinator: string;
  job?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  json: boolean;
}

export const coordinatorCommand: CommandModule<object, CoordinatorArgs> = {
  command: 'coordinator [action]',
  describe: 'Serve the coordinator of workers and jobs (state in Redis); `status` and `stop` talk to a running one',
  builder: (y) =>
    y
      .positional('action', { choices: ['serve', 'status', 'stop'] as const, default: 'serve' as const, describe: 'serve (default), status, or stop a job' })
      .option('host', { type: 'string', default: '0.0.0.0', describe: 'serve: interface to listen on' })
      .option('port', { type: 'number', default: 50051, describe: 'serve: port to listen on' })
      .option('redis', { type: 'string', default: 'redis://127.0.0.1:6379', describe: 'serve: Redis URL holding jobs, membership, heartbeats and metrics' })
      .option('redis-prefix', { type: 'string', default: 'uniap', describe: 'serve: key prefix; a restarted coordinator given the same finds its jobs' })
      .option('token', { type: 'string', describe: `Job token (default: $${TOKEN_ENV}; serve generates one when neither is set)` })
      .option('heartbeat-interval-ms', { type: 'number', default: 1000, describe: 'serve: how often workers report' })
      .option('heartbeat-timeout-ms', { type: 'number', default: 10_000, describe: 'serve: a worker silent this long is lost (its job stops or restarts)' })
      .option('coordinator', { type: 'string', default: '127.0.0.1:50051', describe: 'status/stop: HOST:PORT of the coordinator' })
      .option('job', { type: 'string', describe: 'status/stop: the job id' })
      .option('tls-cert', { type: 'string', describe: 'PEM certificate (TLS with --tls-key and --tls-ca)' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert' })
      .option('tls-ca', { type: 'string', describe: 'PEM CA that signed the coordinator and worker certificates' })
      .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
      .check((a) => {
        for (const k of ['port', 'heartbeat-interval-ms', 'heartbeat-timeout-ms'] as const) {
          if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer, got ${a[k]}`);
        }
        return true;
      })
      .example('UNIAP_TOKEN=$(openssl rand -hex 24) uniap coordinator --redis redis://10.0.0.1:6379', 'serve on port 50051')
      .example('uniap coordinator status --coordinator 10.0.0.1:50051', 'workers and jobs, as stored in Redis') as never,
  handler: async (a) => {
    const tls = tlsFromFlags({ tlsCert: a['tls-cert'], tlsKey: a['tls-key'], tlsCa: a['tls-ca'] });
    if (a.action === 'serve') return serve(a, tls);
    parseHostPort(a.coordinator, '--coordinator');
    const client = new GrpcTransport({ token: requireToken(a.token, `uniap coordinator ${a.action}`), tls }).coordinatorClient(a.coordinator);
    try {
      if (a.action === 'stop') {
        if (!a.job) throw new UniapError('CONFIG_INVALID', 'uniap coordinator stop needs --job ID (uniap coordinator status lists the jobs)');
        const state = await client.stopJob(a.job, 'stopped from the command line');
        process.stdout.write(a.json ? `${JSON.stringify({ jobId: a.job, state })}\n` : `job ${a.job}: ${state}\n`);
        return;
      }
      const status = await client.getStatus(a.job ?? null);
      process.stdout.write(a.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status, Date.now())}\n`);
    } finally {
      client.close();
    }
  },
};

async function serve(a: CoordinatorArgs, tls: ReturnType<typeof tlsFromFlags>): Promise<void> {
  let token = tokenFromFlags(a.token);
  if (!token) {
    token = randomBytes(24).toString('hex');
    process.stderr.write(`no job token given; generated one. Give it to workers and clients out of band:\n  export ${TOKEN_ENV}=${token}\n`);
  }
  const log = (line: string): void => void process.stderr.write(`[uniap coordinator ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
  const service = await startCoordinatorService({
    redisUrl: a.redis,
    redisPrefix: a['redis-prefix'],
    token,
    tls,
    host: a.host,
    port: a.port,
    heartbeatIntervalMs: a['heartbeat-interval-ms'],
    heartbeatTimeoutMs: a['heartbeat-timeout-ms'],
    log,
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log(`received ${sig}; closing (jobs stay in Redis)`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await service.close();
}

export function formatStatus(s: CoordinatorStatus, nowMs: number): string {
  const out = [`coordinator ${s.coordinatorId}, up ${formatMs(nowMs - s.startedAtMs)}`];
  out.push(s.workers.length === 0 ? 'workers: none registered' : 'workers:');
  for (const w of s.workers) {
    out.push(
      `  ${w.workerId}  ${w.host}  ${w.state}  ${w.devices.length} ${w.devices[0]?.kind ?? ''} device(s)  last heartbeat ${formatMs(Math.max(0, nowMs - w.lastHeartbeatAtMs))} ago${w.jobId ? `  job ${w.jobId}` : ''}`,
    );
  }
  out.push(s.jobs.length === 0 ? 'jobs: none' : 'jobs:');
  for (const j of s.jobs) {
    const parts = [`  ${j.jobId}  ${j.state}  step ${j.lastStep ?? 0}/${j.steps}  attempt ${j.attempt}  ${j.modelName}, ${j.worldSize} rank(s)`];
    const m = j.lastMetrics;
    if (m) {
      let iter = `iter ${formatMs(m.timePerIterationMs)}`;
      if (j.predictedTimePerIterationMs) iter += ` (predicted ${formatMs(j.predictedTimePerIterationMs)})`;
      parts.push(`loss ${m.loss === null ? '-' : m.loss.toFixed(4)}`, iter);
    }
    if (j.lastCheckpointStep !== null) parts.push(`checkpoint at step ${j.lastCheckpointStep}`);
    out.push(parts.join('  '));
    if (j.failure) out.push(`    ${formatFailure(j.failure)}`);
  }
  return out.join('\n');
}

if (isMainModule(import.meta.url)) await runStandalone('coordinator', coordinatorCommand);
