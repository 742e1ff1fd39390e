// Real processes over real gRPC on loopback, with a real redis-server: `uniap worker` and
// `uniap coordinator` started as programs (the way launch, ssh and Slurm start them), executors from
// the pure-Python test double. Covers: a worker killed mid-run, wrong tokens, TLS, and a coordinator
// killed and restarted on the same Redis.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { startCoordinatorService, type CoordinatorService } from '../../runtime/control/coordinator-main.ts';
import { GrpcTransport, type TlsFiles } from '../../runtime/control/grpc-transport.ts';
import { freePort } from '../../common/ports.ts';
import { uniapProcess } from '../../common/processes.ts';
import { startRedisServer, type RedisServerHandle } from '../../runtime/control/redis-server.ts';
import { isUnreachable, type CoordinatorClient } from '../../runtime/control/transport.ts';
import type { JobEvent } from '../../runtime/control/types.ts';
import { DOUBLE_EXECUTOR_ROOT, collect, doubleModelJson, dpPlan, isAlive, options, silentLog, waitFor } from './helpers.ts';

const TOKEN = 'process-test-token-abcdef';
let redis: RedisServerHandle;
let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];
let counter = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  tmp = mkdtempSync(join(tmpdir(), 'uniap-proc-test-'));
});
afterAll(async () => {
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Proc {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function start(verb: 'worker' | 'coordinator', args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const p = uniapProcess(verb, args);
  const child = spawn(p.command, p.args, {
    env: { ...process.env, UNIAP_TOKEN: TOKEN, UNIAP_EXECUTOR_ROOT: DOUBLE_EXECUTOR_ROOT, UNIAP_TEST_STEP_MS: '50', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (d: Buffer): void => void output.push(...d.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    // SIGTERM first, so an agent removes its work directory; SIGKILL if it does not end.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, output, exited };
}

function worker(coordinator: string, id: string, devices: number, nodeRank: number, env: NodeJS.ProcessEnv = {}): Proc {
  const args = ['--coordinator', coordinator, '--id', id, '--node-rank', String(nodeRank), '--devices', String(devices), '--device-kind', 'cpu', '--host', '127.0.0.1', '--listen-host', '127.0.0.1', '--work-dir', join(tmp, `work-${id}-${++counter}`)];
  return start('worker', args, env);
}

async function coordinatorHere(heartbeatTimeoutMs: number, tls: TlsFiles | null = null): Promise<CoordinatorService> {
  const s = await startCoordinatorService({ redisUrl: redis.url, redisPrefix: `proc${++counter}`, token: TOKEN, tls, host: '127.0.0.1', port: 0, heartbeatIntervalMs: 200, heartbeatTimeoutMs, log: silentLog });
  cleanups.push(() => s.close());
  return s;
}

function client(address: string, token = TOKEN, tls: TlsFiles | null = null): CoordinatorClient {
  const c = new GrpcTransport({ token, tls, callTimeoutMs: 5000 }).coordinatorClient(address);
  cleanups.push(() => c.close());
  return c;
}

const resultOf = (events: JobEvent[]) => {
  const r = events.find((e) => e.body.kind === 'result');
  return r?.body.kind === 'result' ? r.body : null;
};

describe('uniap worker and coordinator processes over gRPC', () => {
  it('a worker killed mid-run fails the job cleanly: the error names it and no process is left', async () => {
    const svc = await coordinatorHere(3000);
    const wa = worker(svc.address, 'worker-a', 1, 0);
    const wb = worker(svc.address, 'worker-b', 1, 1);
    await waitFor('two workers', async () => (await svc.coordinator.getStatus(null)).workers.filter((w) => w.state === 'idle').length === 2);
    const cli = client(svc.address);
    const { jobId } = await cli.submitJob({ jobId: null, planJson: JSON.stringify(dpPlan(2)), modelJson: doubleModelJson(), options: options({ steps: 100_000 }) });
    const { events, push } = collect();
    const watching = cli.watchJob(jobId, 0, push, new AbortController().signal);
    await waitFor('two iterations', () => events.filter((e) => e.body.kind === 'step').length >= 2);
    const executors = (await cli.getStatus(jobId)).jobs[0]!.ranks.map((r) => r.pid!);
    expect(executors).toHaveLength(2);
    expect(executors.every(isAlive)).toBe(true);

    wb.child.kill('SIGKILL');
    await watching;
    const result = resultOf(events);
    expect(result?.state).toBe('failed');
    expect(result?.failure?.code).toBe('WORKER_LOST');
    expect(result?.failure?.workerId).toBe('worker-b');
    expect(result?.failure?.message).toMatch(/^worker worker-b \(127\.0\.0\.1, rank 1\) stopped answering heartbeats for \d+ ms \(timeout 3000 ms\)/);
    // The killed worker's executor died with it; the survivor's was stopped before the job ended.
    expect(executors.every((p) => !isAlive(p))).toBe(true);
    expect(isAlive(wb.child.pid!)).toBe(false);
    await waitFor('the surviving worker idle', async () => (await cli.getStatus(null)).workers.find((w) => w.workerId === 'worker-a')?.state === 'idle');
    // Ending the job's survivors: the remaining agent shuts down on request.
    await svc.coordinator.shutdownWorkers('test over');
    expect(await wa.exited).toBe(0);
  });

  it('rejects calls with a wrong token, and a worker with a wrong token cannot join', async () => {
    const svc = await coordinatorHere(3000);
    const err = await client(svc.address, 'wrong-token').getStatus(null).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('UNAUTHENTICATED');
    expect((err as Error).message).toMatch(/wrong job token/);
    const intruder = worker(svc.address, 'intruder', 1, 0, { UNIAP_TOKEN: 'wrong-token' });
    expect(await intruder.exited).toBe(1);
    expect(intruder.output.join('\n')).toMatch(/refused the registration: .*wrong job token/);
    expect((await svc.coordinator.getStatus(null)).workers).toEqual([]);
  });

  it('speaks mutual TLS when given certificates; a plaintext client gets nowhere', async () => {
    const dir = mkdtempSync(join(tmp, 'tls-'));
    const sh = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=uniap-test-ca']);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    sh(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', '1', '-copy_extensions', 'copy']);
    const tls: TlsFiles = { certPath: join(dir, 'node.pem'), keyPath: join(dir, 'node.key'), caPath: join(dir, 'ca.pem') };
    const svc = await coordinatorHere(3000, tls);
    // The certificate names localhost (an IP as TLS server name is deprecated).
    const address = `localhost:${svc.port}`;
    const status = await client(address, TOKEN, tls).getStatus(null);
    expect(status.coordinatorId).toBe(svc.coordinator.coordinatorId);
    const plain = await client(address).getStatus(null).catch((e: unknown) => e);
    expect(isUnreachable(plain)).toBe(true);
    const wrong = await client(address, 'wrong-token', tls).getStatus(null).catch((e: unknown) => e);
    expect(isUniapError(wrong) && wrong.code).toBe('UNAUTHENTICATED');
    // A worker with the same files joins and runs a job: TLS both ways (coordinator -> worker too).
    const tlsArgs = ['--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--tls-ca', tls.caPath];
    start('worker', ['--coordinator', address, '--id', 'worker-tls', '--devices', '1', '--device-kind', 'cpu', '--host', 'localhost', '--listen-host', '127.0.0.1', '--work-dir', join(dir, 'work'), ...tlsArgs]);
    const cli = client(address, TOKEN, tls);
    await waitFor('the TLS worker', async () => (await cli.getStatus(null)).workers.some((w) => w.state === 'idle'));
    const { jobId } = await cli.submitJob({ jobId: null, planJson: JSON.stringify(dpPlan(1)), modelJson: doubleModelJson(), options: options({ steps: 2 }) });
    const { events, push } = collect();
    await cli.watchJob(jobId, 0, push, new AbortController().signal);
    expect(resultOf(events)?.state).toBe('succeeded');
  });

  it('a coordinator killed and restarted on the same Redis reports the job and sees it to the end', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const args = ['--host', '127.0.0.1', '--port', String(port), '--redis', redis.url, '--redis-prefix', `restart${++counter}`, '--heartbeat-interval-ms', '200', '--heartbeat-timeout-ms', '15000'];
    const first = start('coordinator', args);
    const cli = client(address);
    await waitFor('coordinator up', () => cli.getStatus(null).then(() => true, () => false));
    worker(address, 'worker-r', 2, 0, { UNIAP_TEST_STEP_MS: '100' });
    await waitFor('worker registered', async () => (await cli.getStatus(null)).workers.length === 1);
    const { jobId } = await cli.submitJob({ jobId: null, planJson: JSON.stringify(dpPlan(2)), modelJson: doubleModelJson(), options: options({ steps: 40 }) });
    await waitFor('three iterations', async () => ((await cli.getStatus(jobId)).jobs[0]!.lastStep ?? 0) >= 3);

    first.child.kill('SIGKILL');
    await first.exited;
    start('coordinator', args);
    const job = await waitFor('the restarted coordinator answers', () =>
      cli.getStatus(jobId).then(
        (s) => s.jobs[0]!,
        () => null,
      ),
    );
    expect(['running', 'succeeded']).toContain(job.state);
    expect(job.lastStep).toBeGreaterThanOrEqual(3);
    expect(job.ranks.map((r) => r.workerId)).toEqual(['worker-r', 'worker-r']);
    const { events, push } = collect();
    await cli.watchJob(jobId, 0, push, new AbortController().signal);
    expect(resultOf(events)?.state).toBe('succeeded');
    expect(events.filter((e) => e.body.kind === 'step').map((e) => (e.body.kind === 'step' ? e.body.summary.step : 0))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
