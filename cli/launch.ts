// `uniap launch --plan plan.json --model M`: run a plan. Starts a coordinator and workers (this machine by
// default, ssh hosts with --hosts), or writes a Slurm batch script (--slurm), or submits to a running
// coordinator (--coordinator), then shows iterations with loss, throughput and predicted vs measured
// time per iteration. Also runs as a program on its own (the Slurm script uses that).
import type { CommandModule } from 'yargs';
import { UniapError } from '../common/errors.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../runtime/control/coordinator.ts';
import { commaList, tlsFromFlags, tokenFromFlags } from '../runtime/control/flags.ts';
import { launch, outcome } from '../runtime/control/launch-job.ts';
import { parseHostPort } from '../common/ports.ts';
import { isMainModule, runStandalone } from '../common/processes.ts';
import { DEFAULT_TRAINING_OPTIONS } from '../runtime/control/types.ts';
import { checkSeqLength, SEQ_LENGTH_OPTION } from './inputs.ts';

interface LaunchArgs {
  plan: string;
  model: string;
  'seq-length'?: number;
  steps: number;
  seed: number;
  lr: number;
  data: string;
  'checkpoint-dir'?: string;
  'checkpoint-every': number;
  'restart-on-failure': boolean;
  'max-restarts': number;
  overlap: boolean;
  redis?: string;
  hosts?: string;
  slurm?: string;
  'gpus-per-node': number;
  coordinator?: string;
  token?: string;
  python?: string;
  'local-workers': number;
  'device-kind'?: 'cpu' | 'gpu';
  port: number;
  'advertise-host'?: string;
  'heartbeat-interval-ms': number;
  'heartbeat-timeout-ms': number;
  'rendezvous-timeout-ms': number;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  verbose: boolean;
  json: boolean;
}

const INTEGER_FLAGS = ['steps', 'seed', 'checkpoint-every', 'max-restarts', 'gpus-per-node', 'local-workers', 'port', 'heartbeat-interval-ms', 'heartbeat-timeout-ms', 'rendezvous-timeout-ms'] as const;

export const launchCommand: CommandModule<object, LaunchArgs> = {
  command: 'launch',
  describe: 'Run a plan: start a coordinator and workers (local, ssh, or a Slurm script) and show training progress',
  builder: (y) =>
    y
      .option('plan', { type: 'string', demandOption: true, describe: 'Plan JSON (from `uniap plan`, or written by hand)' })
      .option('model', { type: 'string', demandOption: true, describe: 'Model preset name or model JSON / Hugging Face config.json path' })
      .option('seq-length', SEQ_LENGTH_OPTION)
      .option('steps', { type: 'number', default: DEFAULT_TRAINING_OPTIONS.steps, describe: 'Training iterations' })
      .option('seed', { type: 'number', default: DEFAULT_TRAINING_OPTIONS.seed, describe: 'Seed of the weights and synthetic data' })
      .option('lr', { type: 'number', default: DEFAULT_TRAINING_OPTIONS.lr, describe: 'AdamW learning rate' })
      .option('data', { type: 'string', default: 'synthetic', describe: '"synthetic" or a token file readable on every worker' })
      .option('checkpoint-dir', { type: 'string', describe: 'Checkpoint directory (shared by every host)' })
      .option('checkpoint-every', { type: 'number', default: 0, describe: 'Save a checkpoint every K iterations (0: never)' })
      .option('restart-on-failure', { type: 'boolean', default: false, describe: 'After a lost worker or failed executor, restart from the last checkpoint' })
      .option('max-restarts', { type: 'number', default: 3, describe: 'With --restart-on-failure: restarts before giving up' })
      .option('overlap', { type: 'boolean', default: true, describe: 'Overlap communication with computation (--no-overlap to measure without)' })
      .option('redis', { type: 'string', describe: 'Redis URL for the job state (default: start a private redis-server)' })
      .option('hosts', { type: 'string', describe: 'Comma list of ssh hosts, one worker each (same checkout path on every host)' })
      .option('slurm', { type: 'string', describe: 'Write a Slurm batch script to this file instead of running' })
      .option('gpus-per-node', { type: 'number', default: 8, describe: 'With --slurm: GPUs per node' })
      .option('coordinator', { type: 'string', describe: 'Submit to a running coordinator at HOST:PORT instead of starting one' })
      .option('token', { type: 'string', describe: 'With --coordinator: the job token (default: $UNIAP_TOKEN)' })
      .option('python', { type: 'string', describe: 'Python interpreter with torch (default: $UNIAP_PYTHON, else /usr/bin/python3)' })
      .option('local-workers', { type: 'number', default: 1, describe: 'Local: worker processes sharing the plan\'s devices' })
      .option('device-kind', { choices: ['cpu', 'gpu'] as const, describe: 'Local: run on CPU processes or GPUs (default: GPUs when there are enough)' })
      .option('port', { type: 'number', default: 0, describe: 'Coordinator port (0: any free one)' })
      .option('advertise-host', { type: 'string', describe: 'With --hosts: the address workers reach this machine at (default: host name)' })
      .option('heartbeat-interval-ms', { type: 'number', default: DEFAULT_HEARTBEAT_INTERVAL_MS, describe: 'How often workers report' })
      .option('heartbeat-timeout-ms', { type: 'number', default: DEFAULT_HEARTBEAT_TIMEOUT_MS, describe: 'A worker silent this long is lost' })
      .option('rendezvous-timeout-ms', { type: 'number', default: 300_000, describe: 'Give up when the plan\'s devices have not registered in time' })
      .option('tls-cert', { type: 'string', describe: 'PEM certificate (TLS with --tls-key and --tls-ca; workers get the same files)' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert' })
      .option('tls-ca', { type: 'string', describe: 'PEM CA that signed the certificates' })
      .option('verbose', { type: 'boolean', default: false, describe: 'Print executor and worker logs as they come' })
      .option('json', { type: 'boolean', default: false, describe: 'Print every job event and the final status as JSON lines' })
      .check((a) => {
        for (const k of INTEGER_FLAGS) if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer, got ${a[k]}`);
        if (a.steps < 1) throw new Error('--steps must be at least 1');
        checkSeqLength(a['seq-length']);
        if (!(a.lr > 0)) throw new Error(`--lr must be positive, got ${a.lr}`);
        if (a['local-workers'] < 1) throw new Error('--local-workers must be at least 1');
        const targets = [a.hosts, a.slurm, a.coordinator].filter((t) => t !== undefined).length;
        if (targets > 1) throw new Error('choose one of --hosts, --slurm and --coordinator');
        return true;
      })
      .example('uniap launch --plan plan.json --model tiny-gpt --steps 20', 'on this machine, with a private Redis')
      .example('uniap launch --plan plan.json --model llama-2-7b --hosts gpu1,gpu2 --redis redis://gpu1:6379', 'one worker per ssh host')
      .example('uniap launch --plan plan.json --model llama-2-7b --slurm run.sbatch', 'write a Slurm script; then sbatch run.sbatch') as never,
  handler: async (a) => {
    if (a.coordinator !== undefined) parseHostPort(a.coordinator, '--coordinator');
    const result = await launch({
      planPath: a.plan,
      model: a.model,
      seqLength: a['seq-length'] ?? null,
      training: {
        steps: a.steps,
        seed: a.seed,
        lr: a.lr,
        data: a.data,
        checkpointDir: a['checkpoint-dir'] ?? null,
        checkpointEvery: a['checkpoint-every'],
        overlap: a.overlap,
        maxRestarts: a['restart-on-failure'] ? a['max-restarts'] : 0,
        rendezvousTimeoutMs: a['rendezvous-timeout-ms'] || null,
      },
      hosts: commaList(a.hosts, '--hosts'),
      slurmOut: a.slurm ?? null,
      gpusPerNode: a['gpus-per-node'],
      coordinator: a.coordinator ?? null,
      redisUrl: a.redis ?? null,
      python: a.python ?? null,
      localWorkers: a['local-workers'],
      deviceKind: a['device-kind'] ?? null,
      port: a.port,
      advertiseHost: a['advertise-host'] ?? null,
      heartbeatIntervalMs: a['heartbeat-interval-ms'],
      heartbeatTimeoutMs: a['heartbeat-timeout-ms'],
      tls: tlsFromFlags({ tlsCert: a['tls-cert'], tlsKey: a['tls-key'], tlsCa: a['tls-ca'] }),
      token: a.coordinator !== undefined ? tokenFromFlags(a.token) : null,
      verbose: a.verbose,
      json: a.json,
      out: process.stdout,
      err: process.stderr,
    });
    if (result.slurmScript !== null) {
      if (a.json) process.stdout.write(`${JSON.stringify({ slurmScript: a.slurm })}\n`);
      else process.stdout.write(`wrote ${a.slurm}; submit it with: sbatch ${a.slurm}\n`);
      return;
    }
    if (a.json) process.stdout.write(`${JSON.stringify({ status: result.status })}\n`);
    else if (result.status) {
      const s = result.status;
      process.stdout.write(`job ${s.jobId} ${s.state}${result.summary ? `: ${result.summary}` : ''}\n`);
    }
    if (!result.status) throw new UniapError('RUNTIME_FAILED', 'the job reported no status');
    outcome(result.status);
  },
};

if (isMainModule(import.meta.url)) await runStandalone('launch', launchCommand);
