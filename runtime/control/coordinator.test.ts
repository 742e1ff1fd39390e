// The Coordinator's effects without processes or Redis: the in-memory store and transport, scripted
// workers that answer the Worker service, and a clock the test moves. Checks that the decisions'
// commands are carried out: shares sent, events stored, heartbeats timed, peers stopped, workers freed.
import { afterEach, describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { doubleModelJson, dpPlan, options, silentLog, waitFor } from '../../tests/runtime/helpers.ts';
import { Coordinator } from './coordinator.ts';
import { MemoryJobStore } from './memory-job-store.ts';
import { MemoryNetwork } from './memory-transport.ts';
import type { WorkerApi } from './transport.ts';
import type { ExecutorEventBody, JobStatus, StartResult, WorkerShare } from './types.ts';

const TOKEN = 'unit-token';

/** A worker agent reduced to its answers: records what it was asked, starts nothing. */
class ScriptedWorker implements WorkerApi {
  readonly starts: WorkerShare[] = [];
  readonly stops: string[] = [];
  async prepare(): Promise<{ masterPort: number }> {
    return { masterPort: 29500 };
  }
  async start(share: WorkerShare): Promise<StartResult> {
    this.starts.push(share);
    return { planSha256: share.planSha256, processes: share.ranks.map((r) => ({ rank: r.rank, pid: 100 + r.rank })) };
  }
  async stop(_jobId: string, _attempt: number, reason: string): Promise<{ stopped: number }> {
    this.stops.push(reason);
    return { stopped: 1 };
  }
  async shutdown(): Promise<void> {}
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(workers: number): Promise<{ coordinator: Coordinator; store: MemoryJobStore; fakes: ScriptedWorker[]; clock: { ms: number } }> {
  const net = new MemoryNetwork();
  const store = new MemoryJobStore();
  const clock = { ms: 1_000_000 };
  const coordinator = await Coordinator.start({ store, transport: net.transport(TOKEN, 'coordinator'), log: silentLog, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1000, now: () => clock.ms });
  closers.push(() => coordinator.close());
  const fakes: ScriptedWorker[] = [];
  for (let i = 0; i < workers; i++) {
    const fake = new ScriptedWorker();
    const server = await net.transport(TOKEN, `w${i}`).serveWorker(fake, { host: `host-w${i}`, port: 7000 });
    closers.push(() => server.close());
    await coordinator.register({ workerId: `w${i}`, host: `host-w${i}`, address: server.address, devices: [{ index: 0, kind: 'cpu', name: 'cpu', memoryBytes: null }], nodeRank: i, pid: 1, version: 't' });
    fakes.push(fake);
  }
  return { coordinator, store, fakes, clock };
}

async function job(c: Coordinator, jobId: string): Promise<JobStatus> {
  return (await c.getStatus(jobId)).jobs[0]!;
}

const event = (jobId: string, rank: number, body: ExecutorEventBody) => ({ jobId, attempt: 0, rank, timeMs: 0, body });

describe('Coordinator (in-memory store and transport, scripted workers)', () => {
  it('sends each worker its ranks, aggregates a step over both ranks, and succeeds when both exit cleanly', async () => {
    const { coordinator: c, store, fakes } = await setup(2);
    const { jobId } = await c.submitJob({ jobId: 'j1', planJson: JSON.stringify(dpPlan(2)), modelJson: doubleModelJson(), options: options() });
    await waitFor('shares sent', () => fakes.every((f) => f.starts.length === 1));
    expect(fakes.map((f) => f.starts[0]!.ranks.map((r) => r.rank))).toEqual([[0], [1]]);
    // The pids the workers answered are recorded once both start calls returned.
    await waitFor('pids recorded', async () => (await job(c, jobId)).ranks.every((r) => r.pid !== null));
    expect((await job(c, jobId)).ranks.map((r) => r.pid)).toEqual([100, 101]);
    const m = (rank: number) => ({ step: 1, loss: 2, timeMs: 10 + rank, computeMs: 8, exposedCommMs: 1, memoryBytes: 5 + rank, samples: 4, tokens: 64 });
    for (const r of [0, 1]) await c.reportEvents(`w${r}`, [event(jobId, r, { kind: 'ready', pid: 100 + r, detailJson: '{}' }), event(jobId, r, { kind: 'step', metrics: m(r) })]);
    expect((await job(c, jobId)).state).toBe('running');
    expect((await store.metrics(jobId)).map((s) => [s.step, s.timePerIterationMs, s.memoryBytesPerRank])).toEqual([[1, 11, [5, 6]]]);
    for (const r of [0, 1]) await c.reportEvents(`w${r}`, [event(jobId, r, { kind: 'exit', code: 0, signal: null, pid: 100 + r })]);
    const events = await store.eventsAfter(jobId, 0);
    expect(events.flatMap((e) => (e.body.kind === 'state' ? [e.body.to] : []))).toEqual(['waiting', 'starting', 'running', 'succeeded']);
    expect(events.at(-1)?.body).toEqual({ kind: 'result', state: 'succeeded', failure: null, lastStep: 1 });
    expect((await store.listWorkers()).map((w) => w.jobId)).toEqual([null, null]);
  });

  it('a worker silent past the heartbeat timeout fails the job naming it; its peer is told to stop', async () => {
    const { coordinator: c, store, fakes, clock } = await setup(2);
    const { jobId, planSha256 } = await c.submitJob({ jobId: 'j2', planJson: JSON.stringify(dpPlan(2)), modelJson: doubleModelJson(), options: options() });
    await waitFor('shares sent', () => fakes.every((f) => f.starts.length === 1));
    clock.ms += 1500;
    // w0 keeps reporting (in the same turn as the clock moves, so no check runs in between); w1 is silent.
    await c.heartbeat({ workerId: 'w0', state: 'running', jobId, attempt: 0, planSha256, processes: [{ rank: 0, pid: 100 }] });
    await waitFor('job failed', async () => (await job(c, jobId)).state === 'failed');
    const status = await job(c, jobId);
    expect(status.failure).toMatchObject({ code: 'WORKER_LOST', workerId: 'w1' });
    expect(status.failure?.message).toMatch(/^worker w1 \(host-w1, rank 1\) stopped answering heartbeats for 1500 ms \(timeout 1000 ms\)$/);
    expect(fakes[0]!.stops).toEqual([status.failure!.message]);
    expect(fakes[1]!.stops).toEqual([]);
    expect((await store.listWorkers()).map((w) => [w.workerId, w.state, w.jobId])).toEqual([
      ['w0', 'running', null],
      ['w1', 'lost', null],
    ]);
  });

  it('validates a submitted job as `uniap launch` does: plan against model, facts recomputed, junk refused', async () => {
    const { coordinator: c, fakes } = await setup(2);
    const refused = async (planJson: string, modelJson: string) => {
      const e = await c.submitJob({ jobId: null, planJson, modelJson, options: options() }).catch((x: unknown) => x);
      expect(isUniapError(e), String(e)).toBe(true);
      expect((e as Error).message.split('\n')).toHaveLength(1);
      return e as Error & { code: string };
    };
    // tiny-gpt has 4 heads: tp 8 cannot split them (the one check is planner/plan-io.ts checkPlanForModel).
    const tp8 = dpPlan(8);
    tp8.stages[0]!.strategies[0] = { ...tp8.stages[0]!.strategies[0]!, dp: 1, tp: 8 };
    const tpErr = await refused(JSON.stringify(tp8), doubleModelJson());
    expect(tpErr.code).toBe('DEGREE_MISMATCH');
    expect(tpErr.message).toMatch(/cannot be split tp=8; use a tp that divides all of them for that layer \(1, 2, 4\)/);
    expect((await refused(JSON.stringify(dpPlan(2)), JSON.stringify({ name: 'x', layers: [{ index: 0 }] }))).code).toBe('CONFIG_INVALID');
    // Facts are recomputed, never trusted: a forged parameter count is replaced.
    const forged = JSON.parse(doubleModelJson());
    forged.facts.layers[1].parameters = 1;
    await c.submitJob({ jobId: 'facts', planJson: JSON.stringify(dpPlan(2)), modelJson: JSON.stringify(forged), options: options() });
    await waitFor('shares sent', () => fakes.every((f) => f.starts.length === 1));
    expect(JSON.parse(fakes[0]!.starts[0]!.modelJson).facts).toEqual(JSON.parse(doubleModelJson()).facts);
  });
});
