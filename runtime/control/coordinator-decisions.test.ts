// The coordinator's pure decisions, without processes, gRPC or Redis: rendezvous and rank assignment,
// blame for a lost worker or a failed executor, the restart policy, stopping, and executor events.
import { describe, expect, it } from 'vitest';
import { exitFailure, heartbeatVerdict } from './blame.ts';
import type { Command, Decision } from './coordinator-commands.ts';
import { onExecutorEvent, onFailure, onStopRequest, onWorkerLost, restartPolicy, settle, workerStopped } from './coordinator-decisions.ts';
import type { JobRecord } from './job-state.ts';
import type { WorkerRecord } from './job-store.ts';
import { freeWorkersInRankOrder, planRendezvous, rendezvousTimeout, startAttempt, startResults } from './rendezvous.ts';
import { DEFAULT_TRAINING_OPTIONS, type DeviceInfo, type ExecutorEventBody, type Failure, type TrainingOptions } from './types.ts';

const NOW = 1_000_000;

function devices(n: number, kind: 'cpu' | 'gpu' = 'cpu', indices = Array.from({ length: n }, (_, i) => i)): DeviceInfo[] {
  return indices.map((index) => ({ index, kind, name: kind, memoryBytes: null }));
}

function worker(workerId: string, n: number, o: Partial<WorkerRecord> = {}): WorkerRecord {
  return { workerId, host: `host-${workerId}`, address: `host-${workerId}:7000`, devices: devices(n), nodeRank: null, pid: 1, version: 't', state: 'idle', registeredAtMs: 0, lastHeartbeatAtMs: NOW, jobId: null, ...o };
}

function waitingJob(worldSize: number, o: Partial<TrainingOptions> = {}, j: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: 'j1', state: 'waiting', stateSinceMs: NOW - 10, attempt: 0, restarts: 0, planJson: '{"p":1}', planSha256: 'a'.repeat(64), modelJson: '{}', modelName: 'm',
    options: { ...DEFAULT_TRAINING_OPTIONS, ...o }, worldSize, globalBatch: 8, predictedTimePerIterationMs: null, ranks: [], masterAddr: null, masterPort: null, backend: null,
    readyRanks: [], doneRanks: [], endedRanks: [], lostWorkers: [], rankErrors: {}, pending: null, failure: null, lastStep: null, lastCheckpointStep: null,
    lastCheckpointPath: null, lastMetrics: null, createdAtMs: 0, updatedAtMs: 0, ...j,
  };
}

/** A job whose attempt runs on the given workers (via the real rendezvous), every rank ready. */
function runningJob(workers: WorkerRecord[], o: Partial<TrainingOptions> = {}, j: Partial<JobRecord> = {}): JobRecord {
  const world = workers.reduce((s, w) => s + w.devices.length, 0);
  const r = planRendezvous(world, freeWorkersInRankOrder(workers))!;
  const started = startAttempt(waitingJob(world, o, j), r, 29500, NOW).job;
  return { ...started, state: 'running', readyRanks: started.ranks.map((a) => a.rank) };
}

const kinds = (d: Decision): string[] => d.commands.map((c) => c.kind);
const states = (d: Decision): string[] => d.commands.flatMap((c) => (c.kind === 'emit' && c.body.kind === 'state' ? [c.body.to] : []));
const find = <K extends Command['kind']>(d: Decision, kind: K): Extract<Command, { kind: K }> | undefined => d.commands.find((c): c is Extract<Command, { kind: K }> => c.kind === kind);
const ev = (rank: number, body: ExecutorEventBody, attempt = 0, timeMs = NOW) => ({ jobId: 'j1', attempt, rank, timeMs, body });

describe('rendezvous', () => {
  it('completes only when the registered free workers cover every device the plan needs', () => {
    const free = [worker('a', 1, { nodeRank: 0 }), worker('b', 2, { nodeRank: 1 })];
    expect(planRendezvous(4, freeWorkersInRankOrder(free))).toBeNull();
    // A busy or not-yet-idle worker does not count.
    expect(planRendezvous(4, freeWorkersInRankOrder([...free, worker('c', 1, { jobId: 'other' }), worker('d', 1, { state: 'starting' })]))).toBeNull();
    const r = planRendezvous(4, freeWorkersInRankOrder([...free, worker('e', 1, { nodeRank: 2 })]));
    expect(r?.chosen.map((c) => [c.workerId, c.devices.length])).toEqual([
      ['a', 1],
      ['b', 2],
      ['e', 1],
    ]);
    expect(r?.master).toEqual({ workerId: 'a', host: 'host-a' });
  });

  it('assigns ranks by node rank, then registration, device index order, contiguous per worker', () => {
    const free = [
      worker('late', 2, { registeredAtMs: 5 }),
      worker('n1', 2, { nodeRank: 1, devices: devices(2, 'gpu', [3, 1]) }),
      worker('early', 4, { registeredAtMs: 1 }),
      worker('n0', 1, { nodeRank: 0, devices: devices(1, 'gpu', [7]) }),
    ];
    const r = planRendezvous(6, freeWorkersInRankOrder(free))!;
    expect(r.ranks.map((a) => [a.rank, a.workerId, a.localRank, a.deviceIndex])).toEqual([
      [0, 'n0', 0, 7],
      [1, 'n1', 0, 1],
      [2, 'n1', 1, 3],
      [3, 'early', 0, 0],
      [4, 'early', 1, 1],
      [5, 'early', 2, 2],
    ]);
    // The last worker gives only the devices still needed; 'late' is not used.
    expect(r.chosen.map((c) => c.workerId)).toEqual(['n0', 'n1', 'early']);
    expect(r.backend).toBe('gloo');
    // The same members in another order give the same assignment.
    expect(planRendezvous(6, freeWorkersInRankOrder([...free].reverse()))).toEqual(r);
    expect(planRendezvous(3, freeWorkersInRankOrder(free))!.backend).toBe('nccl');
  });

  it('starts the attempt: state starting, each worker sent only its ranks, resuming on a restart with a checkpoint', () => {
    const free = freeWorkersInRankOrder([worker('a', 1, { nodeRank: 0 }), worker('b', 2, { nodeRank: 1 })]);
    const first = startAttempt(waitingJob(3), planRendezvous(3, free)!, 29500, NOW);
    expect(first.job.state).toBe('starting');
    expect([first.job.masterAddr, first.job.masterPort]).toEqual(['host-a', 29500]);
    expect(kinds(first)).toEqual(['persist-job', 'log', 'emit', 'start-executors']);
    const start = find(first, 'start-executors')!;
    expect(start.shares.map((s) => [s.workerId, s.share.ranks.map((a) => a.rank), s.share.resume])).toEqual([
      ['a', [0], false],
      ['b', [1, 2], false],
    ]);
    const again = startAttempt(waitingJob(3, {}, { attempt: 1, restarts: 1, lastCheckpointStep: 4 }), planRendezvous(3, free)!, 29501, NOW);
    expect(find(again, 'start-executors')!.shares.every((s) => s.share.resume)).toBe(true);
    expect(find(again, 'emit')!.body).toMatchObject({ to: 'starting', reason: '3 ranks on a (1), b (2); master host-a:29501, gloo, resuming from step 4' });
  });

  it('fails the attempt naming the worker that could not start, and counts an unreachable one as having no executors', () => {
    const job = { ...runningJob([worker('a', 1), worker('b', 1, { registeredAtMs: 1 })]), state: 'starting' as const, readyRanks: [] };
    const d = startResults(
      job,
      [
        { workerId: 'a', host: 'host-a', ok: true, planSha256: job.planSha256, processes: [{ rank: 0, pid: 11 }] },
        { workerId: 'b', host: 'host-b', ok: false, code: 'RUNTIME_FAILED', message: 'connection refused', unreachable: true },
      ],
      NOW,
    );
    expect(d.job.ranks.map((a) => a.pid)).toEqual([11, null]);
    expect(d.job.endedRanks).toEqual([1]);
    expect(d.job.failure).toEqual({ code: 'RUNTIME_FAILED', message: 'worker b (host-b) could not start its executors: connection refused', workerId: 'b', rank: null });
    expect(find(d, 'stop-executors')?.workerIds).toEqual(['a', 'b']);
    expect(d.job.state).toBe('stopping');
  });

  it('gives up waiting after the rendezvous timeout, saying how many devices came', () => {
    const job = waitingJob(3, { rendezvousTimeoutMs: 300 }, { stateSinceMs: NOW });
    expect(rendezvousTimeout(job, NOW + 300, 1).commands).toEqual([]);
    const d = rendezvousTimeout(job, NOW + 301, 1);
    expect(d.job.state).toBe('failed');
    expect(d.job.failure?.message).toMatch(/^the plan needs 3 devices; after 300 ms workers with 1 free device\(s\) had registered; start more workers/);
    expect(kinds(d)).toEqual(['persist-job', 'log', 'emit', 'release-workers', 'clear-attempt', 'emit', 'schedule-rendezvous']);
    expect(rendezvousTimeout(waitingJob(3), NOW + 1e9, 0).commands).toEqual([]);
  });
});

describe('blame', () => {
  it('a member silent for longer than the timeout is lost; the grace period after a restart counts', () => {
    const w = worker('w1', 1, { lastHeartbeatAtMs: NOW - 2500 });
    expect(heartbeatVerdict(w, NOW, 0, 2000)).toBe('stopped answering heartbeats for 2500 ms (timeout 2000 ms)');
    expect(heartbeatVerdict(w, NOW, NOW - 1000, 2000)).toBeNull();
    expect(heartbeatVerdict({ ...w, lastHeartbeatAtMs: NOW - 1999 }, NOW, 0, 2000)).toBeNull();
    expect(heartbeatVerdict({ ...w, state: 'lost' }, NOW, 0, 2000)).toBeNull();
  });

  it('a lost heartbeat blames the lost worker, naming it, its host and its ranks; only its peers are asked to stop', () => {
    const job = runningJob([worker('w0', 1, { nodeRank: 0 }), worker('w1', 2, { nodeRank: 1 })]);
    const d = onWorkerLost(job, { workerId: 'w1', host: 'host-w1' }, 'stopped answering heartbeats for 2100 ms (timeout 2000 ms)', NOW);
    expect(d.job.failure).toEqual({ code: 'WORKER_LOST', message: 'worker w1 (host-w1, ranks 1-2) stopped answering heartbeats for 2100 ms (timeout 2000 ms)', workerId: 'w1', rank: null });
    expect(d.job.lostWorkers).toEqual(['w1']);
    expect(d.job.state).toBe('stopping');
    expect(find(d, 'stop-executors')?.workerIds).toEqual(['w0']);
    // A worker that is not a member, or a job that has not started, is not affected.
    expect(onWorkerLost(job, { workerId: 'w9', host: 'h' }, 'x', NOW).commands).toEqual([]);
    expect(onWorkerLost(waitingJob(2), { workerId: 'w1', host: 'h' }, 'x', NOW).commands).toEqual([]);
  });

  it('a worker lost while the job already fails for an executor error becomes the cause', () => {
    const job = runningJob([worker('w0', 1, { nodeRank: 0 }), worker('w1', 1, { nodeRank: 1 })]);
    const failing = onFailure(job, { code: 'RUNTIME_FAILED', message: 'rank 0 on worker w0 failed: broken pipe', workerId: 'w0', rank: 0 }, NOW).job;
    const d = onWorkerLost(failing, { workerId: 'w1', host: 'host-w1' }, 'stopped answering heartbeats', NOW);
    expect(d.job.failure?.workerId).toBe('w1');
    expect(d.job.failure?.message).toBe('worker w1 (host-w1, rank 1) stopped answering heartbeats; before that: rank 0 on worker w0 failed: broken pipe');
  });

  it('blames the rank whose error came first when ranks die together', () => {
    let job = runningJob([worker('w0', 1, { nodeRank: 0 }), worker('w1', 1, { nodeRank: 1 })]);
    job = onExecutorEvent(job, 'w1', ev(1, { kind: 'error', message: 'injected failure at step 3' }, 0, NOW - 5), NOW).job;
    job = onExecutorEvent(job, 'w0', ev(0, { kind: 'error', message: 'connection to rank 1 closed' }, 0, NOW), NOW).job;
    const f = exitFailure(job, 0, 'w0', 1, null, 42);
    expect(f).toEqual({ code: 'RUNTIME_FAILED', message: 'rank 1 on worker w1 failed: injected failure at step 3; then rank 0 on worker w0 (pid 42) exited with code 1: connection to rank 1 closed', workerId: 'w1', rank: 1 });
    const d = onExecutorEvent(job, 'w0', ev(0, { kind: 'exit', code: 1, signal: null, pid: 42 }), NOW);
    expect(d.job.failure).toEqual(f);
    // With one rank's error only, its own exit names it.
    expect(exitFailure({ ...job, rankErrors: {} }, 1, 'w1', null, 'SIGKILL', 7).message).toBe('rank 1 on worker w1 (pid 7) was killed by SIGKILL; its log lines are in the job events');
  });
});

describe('restart policy', () => {
  const failure: Failure = { code: 'WORKER_LOST', message: 'worker w1 (h, rank 1) stopped answering heartbeats', workerId: 'w1', rank: null };
  const members = [worker('w0', 1, { nodeRank: 0 }), worker('w1', 1, { nodeRank: 1 })];

  it('restarts from the last checkpoint with --restart-on-failure and a checkpoint, as a fresh attempt', () => {
    const job = runningJob(members, { maxRestarts: 2, checkpointDir: '/ckpt', checkpointEvery: 2 }, { lastCheckpointStep: 4 });
    expect(restartPolicy(job)).toEqual({ action: 'restart', restart: 1, of: 2, fromStep: 4 });
    const lost = onWorkerLost(job, { workerId: 'w1', host: 'h' }, 'stopped answering heartbeats', NOW);
    expect(lost.job.state).toBe('restarting');
    expect(find(lost, 'emit')!.body).toMatchObject({ to: 'restarting', reason: `${lost.job.failure!.message}; restart 1 of 2 from the checkpoint of step 4` });
    // Once w0 confirms its executors ended, a new attempt waits for workers; the old one is cleared.
    const stopped = workerStopped(lost.job, 'w0', 0, NOW);
    expect(stopped.job).toMatchObject({ state: 'waiting', attempt: 1, restarts: 1, ranks: [], pending: null });
    expect(kinds(stopped)).toEqual(['persist-job', 'clear-attempt', 'release-workers', 'persist-job', 'log', 'emit', 'schedule-rendezvous']);
    expect(find(stopped, 'clear-attempt')?.attempt).toBe(0);
    const again = startAttempt(stopped.job, planRendezvous(2, freeWorkersInRankOrder([worker('w0', 1), worker('w2', 1, { registeredAtMs: 1 })]))!, 1, NOW);
    expect(find(again, 'start-executors')!.shares.map((s) => [s.workerId, s.share.resume, s.share.attempt])).toEqual([
      ['w0', true, 1],
      ['w2', true, 1],
    ]);
  });

  it('fails the job without --restart-on-failure: stops every executor, then ends failed with the cause', () => {
    const job = runningJob(members, { maxRestarts: 0 }, { lastCheckpointStep: 4 });
    expect(restartPolicy(job)).toEqual({ action: 'fail' });
    const d = onFailure(job, failure, NOW);
    expect(d.job.state).toBe('stopping');
    expect(find(d, 'stop-executors')?.workerIds).toEqual(['w0', 'w1']);
    const one = workerStopped(d.job, 'w0', 0, NOW);
    expect(one.job.state).toBe('stopping');
    const both = workerStopped(one.job, 'w1', 0, NOW);
    expect(both.job.state).toBe('failed');
    expect(both.commands.find((c) => c.kind === 'emit' && c.body.kind === 'result')).toMatchObject({ body: { kind: 'result', state: 'failed', failure } });
  });

  it('stops restarting once the retry budget is used up', () => {
    const job = runningJob(members, { maxRestarts: 2 }, { lastCheckpointStep: 4, restarts: 2, attempt: 2 });
    expect(restartPolicy(job)).toEqual({ action: 'fail' });
    expect(states(onFailure(job, failure, NOW))).toEqual(['stopping']);
  });

  it('before the first checkpoint, a restart starts from the beginning', () => {
    const job = runningJob(members, { maxRestarts: 1 });
    const d = onFailure(job, failure, NOW);
    expect(find(d, 'emit')!.body).toMatchObject({ to: 'restarting', reason: `${failure.message}; restart 1 of 1 from the beginning (no checkpoint yet)` });
    const next = startAttempt(settle({ ...d.job, endedRanks: [0, 1] }, NOW).job, planRendezvous(2, freeWorkersInRankOrder(members))!, 1, NOW);
    expect(find(next, 'start-executors')!.shares.every((s) => !s.share.resume)).toBe(true);
  });
});

describe('stopping and executor events', () => {
  const members = [worker('w0', 1, { nodeRank: 0 }), worker('w1', 1, { nodeRank: 1 })];

  it('a stop request stops a waiting job at once, a running one after every executor ended', () => {
    expect(onStopRequest(waitingJob(2), '', NOW).job.state).toBe('stopped');
    const d = onStopRequest(runningJob(members), 'user pressed Ctrl-C', NOW);
    expect(d.job.state).toBe('stopping');
    expect(find(d, 'stop-executors')?.reason).toBe('user pressed Ctrl-C');
    const done = workerStopped(workerStopped(d.job, 'w0', 0, NOW).job, 'w1', 0, NOW);
    expect(done.job).toMatchObject({ state: 'stopped', failure: null });
    // A confirmation of an older attempt changes nothing.
    expect(workerStopped(d.job, 'w0', 5, NOW).commands).toEqual([]);
  });

  it('moves to running when every rank is ready and succeeds when every rank exited cleanly', () => {
    let job: JobRecord = { ...runningJob(members), state: 'starting', readyRanks: [] };
    job = onExecutorEvent(job, 'w0', ev(0, { kind: 'ready', pid: 5, detailJson: '{}' }), NOW).job;
    expect(job.state).toBe('starting');
    const ready = onExecutorEvent(job, 'w1', ev(1, { kind: 'ready', pid: 6, detailJson: '{}' }), NOW);
    expect(states(ready)).toEqual(['running']);
    expect(ready.job.ranks.map((r) => r.pid)).toEqual([5, 6]);
    // Events of another attempt, or for a rank the sender does not run, are ignored.
    expect(onExecutorEvent(ready.job, 'w0', ev(1, { kind: 'exit', code: 0, signal: null, pid: 6 }), NOW).commands).toEqual([]);
    expect(onExecutorEvent(ready.job, 'w0', ev(0, { kind: 'exit', code: 0, signal: null, pid: 5 }, 3), NOW).commands).toEqual([]);
    const one = onExecutorEvent(ready.job, 'w0', ev(0, { kind: 'exit', code: 0, signal: null, pid: 5 }), NOW);
    expect(one.job.state).toBe('running');
    const both = onExecutorEvent(one.job, 'w1', ev(1, { kind: 'exit', code: 0, signal: null, pid: 6 }), NOW);
    expect(both.job.state).toBe('succeeded');
  });

  it('a step report is counted in the store; a checkpoint report too', () => {
    const job = runningJob(members);
    const m = { step: 1, loss: 2, timeMs: 3, computeMs: 2, exposedCommMs: 1, memoryBytes: 9, samples: 4, tokens: 64 };
    expect(onExecutorEvent(job, 'w1', ev(1, { kind: 'step', metrics: m }), NOW).commands).toEqual([{ kind: 'record-step', jobId: 'j1', attempt: 0, rank: 1, worldSize: 2, metrics: m }]);
    expect(kinds(onExecutorEvent(job, 'w1', ev(1, { kind: 'checkpoint', step: 2, path: '/c' }), NOW))).toEqual(['record-checkpoint']);
  });
});
