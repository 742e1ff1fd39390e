// One conformance suite for every JobStore: the in-memory store and the Redis store (on a private
// redis-server) must pass the same cases: ordering, event sequence numbers, once-per-step completion,
// attempt cleanup, and the refusal of records of an unknown schema version.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import type { JobRecord } from './job-state.ts';
import { RedisJobStore, type JobStore, type WorkerRecord } from './job-store.ts';
import { MemoryJobStore } from './memory-job-store.ts';
import { findRedisServer, startRedisServer, type RedisServerHandle } from './redis-server.ts';
import { DEFAULT_TRAINING_OPTIONS, type StepMetrics } from './types.ts';

interface Harness {
  store: JobStore;
  /** Writes a job or worker record's text as another uniap would have stored it. */
  putRaw(kind: 'job' | 'worker', id: string, text: string): Promise<void>;
  close(): Promise<void>;
}

let redis: RedisServerHandle | null = null;
let raw: Redis | null = null;
let prefixes = 0;

const factories: [string, () => Promise<Harness>][] = [
  [
    'MemoryJobStore',
    async () => {
      const store = new MemoryJobStore();
      return { store, putRaw: async (kind, id, text) => store.putRaw(kind, id, text), close: () => store.close() };
    },
  ],
  [
    'RedisJobStore',
    async () => {
      const prefix = `conf${++prefixes}-${process.pid}`;
      const store = await RedisJobStore.connect(redis!.url, prefix);
      return {
        store,
        putRaw: async (kind, id, text) => void (await raw!.hset(`${prefix}:${kind === 'job' ? 'jobs' : 'workers'}`, id, text)),
        close: () => store.close(),
      };
    },
  ],
];

beforeAll(async () => {
  // The Redis half needs redis-server; without it only that half is skipped (see REDIS_MISSING_HINT).
  if (!findRedisServer()) return;
  redis = await startRedisServer();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

function worker(workerId: string, registeredAtMs: number, o: Partial<WorkerRecord> = {}): WorkerRecord {
  return { workerId, host: '10.0.0.1', address: '10.0.0.1:7000', devices: [{ index: 0, kind: 'cpu', name: 'cpu', memoryBytes: null }], nodeRank: null, pid: 42, version: 't', state: 'idle', registeredAtMs, lastHeartbeatAtMs: registeredAtMs, jobId: null, ...o };
}

function job(jobId: string, createdAtMs: number): JobRecord {
  return {
    jobId, state: 'running', stateSinceMs: createdAtMs, attempt: 1, restarts: 1, planJson: '{}', planSha256: 'ab', modelJson: '{}', modelName: 'm',
    options: { ...DEFAULT_TRAINING_OPTIONS, checkpointDir: '/ckpt' }, worldSize: 2, globalBatch: 8, predictedTimePerIterationMs: null,
    ranks: [{ rank: 0, localRank: 0, deviceIndex: 0, workerId: 'w0', pid: 7 }], masterAddr: 'h', masterPort: 1234, backend: 'gloo',
    readyRanks: [0], doneRanks: [], endedRanks: [], lostWorkers: [], rankErrors: { '1': { message: 'boom', workerId: 'w1', timeMs: 5 } },
    pending: null, failure: null, lastStep: 3, lastCheckpointStep: 2, lastCheckpointPath: '/ckpt/2', lastMetrics: null, createdAtMs, updatedAtMs: createdAtMs,
  };
}

const metrics = (step: number, memoryBytes: number): StepMetrics => ({ step, loss: 1, timeMs: 10, computeMs: 8, exposedCommMs: 1, memoryBytes, samples: 4, tokens: 64 });

describe.each(factories)('%s', (name, make) => {
  const run = (title: string, body: (h: Harness) => Promise<void>): void => {
    it.skipIf(name === 'RedisJobStore' && !findRedisServer())(title, async () => {
      const h = await make();
      try {
        await body(h);
      } finally {
        await h.close();
      }
    });
  };

  run('keeps workers by id, listed in registration order', async ({ store }) => {
    await store.saveWorker(worker('b', 2));
    await store.saveWorker(worker('a', 2));
    await store.saveWorker(worker('c', 1));
    await store.saveWorker(worker('c', 1, { state: 'lost', jobId: 'j' }));
    expect((await store.listWorkers()).map((w) => w.workerId)).toEqual(['c', 'a', 'b']);
    expect(await store.getWorker('c')).toEqual(worker('c', 1, { state: 'lost', jobId: 'j' }));
    expect(await store.getWorker('nobody')).toBeNull();
    await store.deleteWorker('a');
    expect((await store.listWorkers()).map((w) => w.workerId)).toEqual(['c', 'b']);
  });

  run('keeps jobs whole, listed in creation order', async ({ store }) => {
    await store.saveJob(job('j2', 20));
    await store.saveJob(job('j1', 10));
    expect(await store.getJob('j2')).toEqual(job('j2', 20));
    expect((await store.listJobs()).map((j) => j.jobId)).toEqual(['j1', 'j2']);
    expect(await store.getJob('none')).toBeNull();
  });

  run('numbers each job’s events 1, 2, 3 and replays those after a sequence number', async ({ store }) => {
    const a1 = await store.appendEvent('a', { kind: 'log', rank: 0, workerId: 'w', line: 'x' }, 5);
    await store.appendEvent('b', { kind: 'checkpoint', step: 2, path: '/p' }, 6);
    const a2 = await store.appendEvent('a', { kind: 'state', from: 'waiting', to: 'starting', reason: 'r' }, 7);
    expect([a1.seq, a2.seq]).toEqual([1, 2]);
    expect(await store.eventsAfter('a', 0)).toEqual([a1, a2]);
    expect(await store.eventsAfter('a', 1)).toEqual([a2]);
    expect((await store.eventsAfter('b', 0)).map((e) => e.seq)).toEqual([1]);
    expect(await store.eventsAfter('none', 0)).toEqual([]);
  });

  run('appends per-iteration metrics in order', async ({ store }) => {
    const s = { step: 1, loss: null, timePerIterationMs: 3, computeMs: 2, exposedCommMs: 1, samplesPerSecond: 5, tokensPerSecond: 6, memoryBytesPerRank: [1, 2] };
    await store.appendMetrics('j', s);
    await store.appendMetrics('j', { ...s, step: 2 });
    expect((await store.metrics('j')).map((m) => m.step)).toEqual([1, 2]);
    expect(await store.metrics('other')).toEqual([]);
  });

  run('completes a step once, when every rank reported it, with metrics indexed by rank', async ({ store }) => {
    expect(await store.recordRankStep('j', 0, 1, 2, metrics(1, 11))).toBeNull();
    // A repeated report of the same rank does not count as the second rank.
    expect(await store.recordRankStep('j', 0, 1, 2, metrics(1, 99))).toBeNull();
    // Another attempt's report is another step.
    expect(await store.recordRankStep('j', 1, 0, 2, metrics(1, 55))).toBeNull();
    expect(await store.recordRankStep('j', 0, 0, 2, metrics(1, 10))).toEqual([metrics(1, 10), metrics(1, 11)]);
    expect(await store.recordRankStep('j', 0, 0, 2, metrics(2, 10))).toBeNull();
  });

  run('completes a checkpoint once every rank saved it; clearing an attempt forgets partial reports', async ({ store }) => {
    expect(await store.recordRankCheckpoint('j', 0, 0, 2, 4, '/c/4')).toBe(false);
    expect(await store.recordRankCheckpoint('j', 0, 0, 2, 4, '/c/4')).toBe(false);
    expect(await store.recordRankCheckpoint('j', 0, 1, 2, 4, '/c/4')).toBe(true);
    expect(await store.recordRankCheckpoint('j', 0, 0, 2, 6, '/c/6')).toBe(false);
    expect(await store.recordRankStep('j', 0, 0, 2, metrics(6, 1))).toBeNull();
    expect(await store.recordRankStep('j', 1, 0, 2, metrics(6, 1))).toBeNull();
    await store.clearAttempt('j', 0);
    // After the clear, rank 1 alone does not complete step 6 of attempt 0; attempt 1 is untouched.
    expect(await store.recordRankCheckpoint('j', 0, 1, 2, 6, '/c/6')).toBe(false);
    expect(await store.recordRankStep('j', 0, 1, 2, metrics(6, 1))).toBeNull();
    expect(await store.recordRankStep('j', 1, 1, 2, metrics(6, 2))).toEqual([metrics(6, 1), metrics(6, 2)]);
  });

  run('refuses a record of a newer or missing schema version with one error naming the fix', async ({ store, putRaw }) => {
    await store.saveJob(job('ok', 1));
    await putRaw('job', 'new', JSON.stringify({ ...job('new', 2), schemaVersion: 3 }));
    const err = await store.getJob('new').catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toBe('job record new schema version 3 is newer than this uniap (1); upgrade uniap or use a fresh --redis database');
    await expect(store.listJobs()).rejects.toThrow(/job record new schema version 3 is newer than this uniap \(1\)/);
    expect((await store.getJob('ok'))?.jobId).toBe('ok');
    await putRaw('worker', 'old', JSON.stringify(worker('old', 1)));
    await expect(store.getWorker('old')).rejects.toThrow(/worker record old has schema version \(none\), this uniap reads 1; use a fresh --redis database/);
  });
});
