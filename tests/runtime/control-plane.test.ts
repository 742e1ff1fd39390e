// Control-plane behaviour with the in-memory transport: the real Coordinator and WorkerAgent state
// machines, a real redis-server, and real executor processes (the pure-Python test double, so no
// torch import). Heartbeats are fast (200 ms, timeout 2 s) so lost-worker cases end quickly; no
// assertion depends on timing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { Coordinator } from '../../runtime/control/coordinator.ts';
import { declaredDevices } from '../../runtime/control/executor-process.ts';
import { RedisJobStore } from '../../runtime/control/job-store.ts';
import { MemoryNetwork } from '../../runtime/control/memory-transport.ts';
import { startRedisServer, type RedisServerHandle } from '../../runtime/control/redis-server.ts';
import type { ServerHandle } from '../../runtime/control/transport.ts';
import type { JobEvent, JobStatus, TrainingOptions } from '../../runtime/control/types.ts';
import { WorkerAgent, type WorkerExit } from '../../runtime/control/worker-agent.ts';
import { DOUBLE_EXECUTOR_ROOT, PYTHON, collect, doubleModelJson, dpPlan, isAlive, options, silentLog, waitFor } from './helpers.ts';

const TOKEN = 'test-token-0123456789';
let redis: RedisServerHandle;
let prefixCounter = 0;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cluster {
  net: MemoryNetwork;
  coordinator: Coordinator;
  server: ServerHandle;
  store: RedisJobStore;
  agents: WorkerAgent[];
  exits: Promise<WorkerExit>[];
  prefix: string;
  workDir: string;
}

async function startCoordinator(net: MemoryNetwork, prefix: string, port = 0): Promise<{ coordinator: Coordinator; server: ServerHandle; store: RedisJobStore }> {
  const store = await RedisJobStore.connect(redis.url, prefix);
  const transport = net.transport(TOKEN, 'coordinator-host');
  const coordinator = await Coordinator.start({ store, transport, log: process.env.UNIAP_TEST_LOG ? (l: string) => console.log(l) : silentLog, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 2000 });
  const server = await transport.serveCoordinator(coordinator, { host: 'coordinator-host', port });
  return { coordinator, server, store };
}

async function cluster(devicesPerWorker: number[]): Promise<Cluster> {
  const net = new MemoryNetwork();
  const prefix = `cp${++prefixCounter}-${process.pid}`;
  const { coordinator, server, store } = await startCoordinator(net, prefix, 9000);
  const workDir = mkdtempSync(join(tmpdir(), 'uniap-cp-test-'));
  const agents = devicesPerWorker.map(
    (n, i) =>
      new WorkerAgent({
        transport: net.transport(TOKEN, `w${i}`),
        coordinatorAddress: server.address,
        workerId: `w${i}`,
        host: '127.0.0.1',
        listenHost: '127.0.0.1',
        listenPort: 0,
        devices: declaredDevices(n, 'cpu'),
        nodeRank: i,
        python: PYTHON,
        executorRoot: DOUBLE_EXECUTOR_ROOT,
        workDir: join(workDir, `w${i}`),
        stopGraceMs: 3000,
        connectTimeoutMs: 10_000,
        version: 'test',
        log: process.env.UNIAP_TEST_LOG ? (l: string) => console.log(l) : silentLog,
      }),
  );
  const exits = agents.map((a) => a.serve());
  const c: Cluster = { net, coordinator, server, store, agents, exits, prefix, workDir };
  cleanups.push(async () => {
    await Promise.all(agents.map((a) => a.exit(0, 'test over')));
    await c.coordinator.close();
    await c.server.close();
    await c.store.close();
    rmSync(workDir, { recursive: true, force: true });
  });
  await waitFor('workers registered', () => agents.every((a) => a.state === 'idle'));
  return c;
}

async function submitAndWatch(c: Cluster, world: number, o: Partial<TrainingOptions>): Promise<{ jobId: string; events: JobEvent[]; done: Promise<void> }> {
  const client = c.net.transport(TOKEN, 'cli').coordinatorClient(c.server.address);
  const { jobId } = await client.submitJob({ jobId: null, planJson: JSON.stringify(dpPlan(world)), modelJson: doubleModelJson(), options: options(o) });
  const { events, push } = collect();
  const done = client.watchJob(jobId, 0, push, new AbortController().signal);
  return { jobId, events, done };
}

async function jobOf(c: Cluster, jobId: string): Promise<JobStatus> {
  const s = await c.coordinator.getStatus(jobId);
  return s.jobs[0]!;
}

const resultOf = (events: JobEvent[]) => {
  const r = events.find((e) => e.body.kind === 'result');
  return r?.body.kind === 'result' ? r.body : null;
};

describe('control plane (in-memory transport, real Redis, executor test double)', () => {
  it('runs a data-parallel job on two workers to the end and aggregates every iteration', async () => {
    const c = await cluster([1, 1]);
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 3 });
    await done;
    const result = resultOf(events);
    expect(result?.state).toBe('succeeded');
    expect(result?.failure).toBeNull();
    const steps = events.flatMap((e) => (e.body.kind === 'step' ? [e.body.summary] : []));
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) {
      expect(s.loss).not.toBeNull();
      expect(s.memoryBytesPerRank).toEqual([1000000, 1000001]);
      expect(s.tokensPerSecond).toBeCloseTo(s.samplesPerSecond * 16, 6);
    }
    const states = events.flatMap((e) => (e.body.kind === 'state' ? [e.body.to] : []));
    expect(states).toEqual(['waiting', 'starting', 'running', 'succeeded']);
    const job = await jobOf(c, jobId);
    expect(job.lastStep).toBe(3);
    expect(job.ranks.map((r) => [r.rank, r.workerId])).toEqual([
      [0, 'w0'],
      [1, 'w1'],
    ]);
    expect(await c.store.metrics(jobId)).toHaveLength(3);
    const pids = job.ranks.map((r) => r.pid!);
    expect(pids.every((p) => p > 0)).toBe(true);
    await waitFor('executors gone', () => pids.every((p) => !isAlive(p)));
    await waitFor('workers idle', () => c.agents.every((a) => a.state === 'idle'));
  });

  it('runs two ranks on one worker with two devices, LOCAL_RANK 0 and 1', async () => {
    const c = await cluster([2]);
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 2 });
    await done;
    expect(resultOf(events)?.state).toBe('succeeded');
    const job = await jobOf(c, jobId);
    expect(job.ranks.map((r) => [r.rank, r.localRank, r.workerId])).toEqual([
      [0, 0, 'w0'],
      [1, 1, 'w0'],
    ]);
    expect(job.masterAddr).toBe('127.0.0.1');
  });

  it('rejects calls with a wrong token (UNAUTHENTICATED)', async () => {
    const c = await cluster([1]);
    const intruder = c.net.transport('not-the-token', 'intruder').coordinatorClient(c.server.address);
    const err = await intruder.getStatus(null).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('UNAUTHENTICATED');
    const reg = await intruder
      .register({ workerId: 'evil', host: '127.0.0.1', address: '127.0.0.1:1', devices: declaredDevices(1, 'cpu'), nodeRank: null, pid: 1, version: 'x' })
      .catch((e: unknown) => e);
    expect(isUniapError(reg) && reg.code).toBe('UNAUTHENTICATED');
    expect((await c.coordinator.getStatus(null)).workers.map((w) => w.workerId)).toEqual(['w0']);
  });

  it('a worker that stops answering fails the job naming it, and every executor ends on both sides', async () => {
    const c = await cluster([1, 1]);
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 100_000 });
    await waitFor('two iterations', () => events.filter((e) => e.body.kind === 'step').length >= 2);
    const pids = (await jobOf(c, jobId)).ranks.map((r) => r.pid!);
    c.net.partition('w1');
    await done;
    const result = resultOf(events);
    expect(result?.state).toBe('failed');
    expect(result?.failure?.code).toBe('WORKER_LOST');
    expect(result?.failure?.workerId).toBe('w1');
    expect(result?.failure?.message).toMatch(/^worker w1 \(127\.0\.0\.1, rank 1\) stopped answering heartbeats/);
    // The cut-off worker gives up on the coordinator and ends its executors too.
    const exit = await c.exits[1]!;
    expect(exit.code).toBe(1);
    expect(exit.reason).toMatch(/coordinator .* has not answered/);
    await waitFor('every executor gone', () => pids.every((p) => !isAlive(p)));
    expect(c.agents[0]!.executorPids).toEqual([]);
    const status = await c.coordinator.getStatus(null);
    expect(status.workers.find((w) => w.workerId === 'w1')?.state).toBe('lost');
  });

  it('restarts from the last checkpoint after an executor failure when restarts are allowed', async () => {
    const c = await cluster([1, 1]);
    const ckpt = join(c.workDir, 'ckpt');
    process.env.UNIAP_TEST_FAIL_RANK = '1';
    // Rank 1 fails at the start of step 4, a whole step after the checkpoint of step 2: long steps let
    // rank 0's checkpoint report reach the coordinator first even on a loaded machine (the two travel
    // through different workers; failing right after the checkpoint would race it).
    process.env.UNIAP_TEST_FAIL_STEP = '4';
    process.env.UNIAP_TEST_STEP_MS = '300';
    cleanups.push(() => {
      delete process.env.UNIAP_TEST_FAIL_RANK;
      delete process.env.UNIAP_TEST_FAIL_STEP;
      delete process.env.UNIAP_TEST_STEP_MS;
    });
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 4, checkpointDir: ckpt, checkpointEvery: 2, maxRestarts: 1 });
    await done;
    expect(resultOf(events)?.state).toBe('succeeded');
    const transitions = events.flatMap((e) => (e.body.kind === 'state' ? [`${e.body.to}`] : []));
    expect(transitions).toEqual(['waiting', 'starting', 'running', 'restarting', 'waiting', 'starting', 'running', 'succeeded']);
    const restart = events.find((e) => e.body.kind === 'state' && e.body.to === 'restarting');
    // The failing rank, or its peer whose collective broke and whose exit was seen first.
    expect(restart?.body.kind === 'state' && restart.body.reason).toMatch(
      /(rank 1 on worker w1 .*injected failure at step 4|rank 0 on worker w0 .*connection to rank 1 closed); restart 1 of 1 from the checkpoint of step 2/,
    );
    const resumed = events.find((e) => e.body.kind === 'state' && e.body.to === 'starting' && e.body.reason.includes('resuming'));
    expect(resumed?.body.kind === 'state' && resumed.body.reason).toMatch(/resuming from step 2/);
    const job = await jobOf(c, jobId);
    expect(job.attempt).toBe(1);
    expect(job.restarts).toBe(1);
    expect(job.lastStep).toBe(4);
    expect(job.failure).toBeNull();
  });

  it('fails without restarts when an executor fails, naming the rank and the worker', async () => {
    const c = await cluster([1, 1]);
    process.env.UNIAP_TEST_FAIL_RANK = '0';
    process.env.UNIAP_TEST_FAIL_STEP = '2';
    cleanups.push(() => {
      delete process.env.UNIAP_TEST_FAIL_RANK;
      delete process.env.UNIAP_TEST_FAIL_STEP;
    });
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 5 });
    await done;
    const result = resultOf(events);
    expect(result?.state).toBe('failed');
    expect(result?.failure?.code).toBe('RUNTIME_FAILED');
    // Rank 1's collective breaks right after; whichever exit is seen first, rank 0's error is the cause.
    expect(result?.failure?.rank).toBe(0);
    expect(result?.failure?.workerId).toBe('w0');
    expect(result?.failure?.message).toMatch(/^rank 0 on worker w0 (\(pid \d+\) exited with code 3: injected failure at step 2|failed: injected failure at step 2; then rank 1 on worker w1 .*)$/);
    const pids = (await jobOf(c, jobId)).ranks.map((r) => r.pid!);
    await waitFor('every executor gone', () => pids.every((p) => !isAlive(p)));
  });

  it('stops a running job on request; every executor ends', async () => {
    const c = await cluster([1, 1]);
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 100_000 });
    await waitFor('an iteration', () => events.some((e) => e.body.kind === 'step'));
    const pids = (await jobOf(c, jobId)).ranks.map((r) => r.pid!);
    await c.coordinator.stopJob(jobId, 'user pressed Ctrl-C');
    await done;
    expect(resultOf(events)?.state).toBe('stopped');
    expect(pids.every((p) => !isAlive(p))).toBe(true);
    await waitFor('workers idle', () => c.agents.every((a) => a.state === 'idle'));
  });

  it('a restarted coordinator reports the job from Redis and the job carries on', async () => {
    const c = await cluster([1, 1]);
    process.env.UNIAP_TEST_STEP_MS = '100';
    cleanups.push(() => void delete process.env.UNIAP_TEST_STEP_MS);
    const { jobId, events, done } = await submitAndWatch(c, 2, { steps: 30 });
    await waitFor('three iterations', () => events.filter((e) => e.body.kind === 'step').length >= 3);
    const cut = done.catch((e: unknown) => e);
    // The first coordinator goes away: no more answers, nothing written on the way out.
    await c.coordinator.close();
    await c.server.close();
    await c.store.close();
    const second = await startCoordinator(c.net, c.prefix, 9000);
    c.coordinator = second.coordinator;
    c.server = second.server;
    c.store = second.store;
    expect(String(await cut)).toMatch(/went away/);
    const job = await jobOf(c, jobId);
    expect(['running', 'succeeded']).toContain(job.state);
    expect(job.lastStep).toBeGreaterThanOrEqual(3);
    expect(job.ranks.map((r) => r.workerId)).toEqual(['w0', 'w1']);
    expect(job.predictedTimePerIterationMs).toBe(50);
    // Workers reconnect; the job ends normally under the new coordinator.
    const { events: after, push } = collect();
    const client = c.net.transport(TOKEN, 'cli2').coordinatorClient(c.server.address);
    await client.watchJob(jobId, 0, push, new AbortController().signal);
    expect(resultOf(after)?.state).toBe('succeeded');
    expect((await jobOf(c, jobId)).lastStep).toBe(30);
  });

  it('refuses a plan made for another model, and gives up a rendezvous that cannot complete', async () => {
    const c = await cluster([1]);
    const err = await c.coordinator
      .submitJob({ jobId: null, planJson: JSON.stringify(dpPlan(1, 6)), modelJson: doubleModelJson(4), options: options() })
      .catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('DEGREE_MISMATCH');
    const { events, done } = await submitAndWatch(c, 3, { rendezvousTimeoutMs: 300 });
    await done;
    const result = resultOf(events);
    expect(result?.state).toBe('failed');
    expect(result?.failure?.message).toMatch(/the plan needs 3 devices; after 300 ms workers with 1 free device/);
  });
});
