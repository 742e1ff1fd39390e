// `uniap profile` end to end on this machine: 2 CPU processes over Gloo measure tiny-gpt with the
// executor's layers; the profile validates, times and memory move the expected way, the cache makes
// a rerun measure nothing, Ctrl-C (an abort) leaves a cache the next run continues from, and a
// missing Python or torch is one TOOL_MISSING error. Wall-clock times are only checked to be
// measured (positive, finite): how they scale belongs to bench/profiler.ts, since this machine is
// shared and a tiny layer's time at micro-batch 1 vs 8 is within its noise (a CI run measured 16 ms
// vs 13 ms). Memory is deterministic and is compared.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCluster } from '../../configs/cluster-presets.ts';
import { isUniapError } from '../../common/errors.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { layerShapeKey } from '../../configs/model-derive.ts';
import { type CacheEnvironment, MeasurementCache } from '../cache.ts';
import { parseProfile } from '../profile-io.ts';
import type { Profile } from '../profile.ts';
import { measureProfile, type MeasureResult } from './run.ts';
import { KiB, MiB } from './tasks.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'uniap-measure-test-'));
const model = loadModel('tiny-gpt');
const cluster = loadCluster('local-cpu:2');
const options = {
  model,
  cluster,
  microBatches: [1, 8],
  tpDegrees: [1, 2],
  quick: true,
  reps: 5,
  // Up to 16 MiB, so the all-reduce check compares sizes 16384x apart (Gloo latency on a loaded
  // 2-core machine swings by milliseconds).
  maxMessageBytes: 16 * MiB,
  cacheDir: path.join(tmp, 'cache'),
};

let cut: MeasureResult;
let first: MeasureResult;
let profile: Profile;

beforeAll(async () => {
  // Ctrl-C stand-in: abort as soon as the first measurement is cached; then the full run resumes.
  const controller = new AbortController();
  cut = await measureProfile({ ...options, signal: controller.signal, onMeasured: () => controller.abort() });
  first = await measureProfile(options);
  // Through JSON and the validating parser, as `uniap plan --profile` reads it.
  profile = parseProfile(JSON.parse(JSON.stringify(first.profile)), 'measured.json');
}, 180_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const entry = (type: string, microBatch: number, tp: number) => {
  const key = layerShapeKey(model.layers.find((l) => l.type === type)!);
  const e = profile.layers.find((x) => x.shapeKey === key && x.microBatch === microBatch && x.tp === tp);
  if (!e) throw new Error(`no ${type} entry at mb ${microBatch} tp ${tp}`);
  return e;
};

describe('uniap profile on 2 CPU processes (Gloo)', () => {
  it('produces a valid measured profile of every distinct layer shape', () => {
    expect(profile.provenance.kind).toBe('measured');
    expect(profile.provenance.versions?.torch).toBeTruthy();
    expect(profile.cluster).toEqual({ name: cluster.name, nodes: 1, devicesPerNode: 2 });
    const shapes = new Set(model.layers.map(layerShapeKey));
    expect(new Set(profile.layers.map((e) => e.shapeKey))).toEqual(shapes);
    for (const type of ['embedding', 'decoder', 'head']) for (const mb of [1, 8]) for (const tp of [1, 2]) expect(entry(type, mb, tp).tpCommunication).toBe('included');
    // Larger micro-batches come from the fit, flagged as such.
    expect(entry('decoder', 16, 1).flags).toContain('fitted');
  });

  it('times are measured and kept activations grow with the micro-batch', () => {
    for (const tp of [1, 2]) {
      const small = entry('decoder', 1, tp);
      const large = entry('decoder', 8, tp);
      for (const e of [small, large]) for (const ms of [e.forwardMs, e.backwardMs]) expect(Number.isFinite(ms) && ms > 0).toBe(true);
      expect(large.activationBytes).toBeGreaterThan(small.activationBytes);
    }
  });

  it('tensor parallelism halves the parameters per device and shrinks or holds activations', () => {
    const t1 = entry('decoder', 8, 1);
    const t2 = entry('decoder', 8, 2);
    // Megatron splits every weight matrix; norms and the output bias stay replicated.
    expect(t2.parameterBytes).toBeLessThan(0.55 * t1.parameterBytes);
    expect(t2.parameterBytes).toBeGreaterThan(0.45 * t1.parameterBytes);
    expect(t2.activationBytes).toBeLessThanOrEqual(t1.activationBytes);
  });

  it('measures every collective on 2 ranks, each message size once', () => {
    for (const c of ['all-reduce', 'all-gather', 'reduce-scatter', 'p2p'] as const) {
      const l = profile.links.find((x) => x.collective === c && x.groupSize === 2 && x.nodes === 1);
      expect(l, c).toBeDefined();
      expect(l!.busBandwidthGBps).toBeGreaterThan(0);
    }
    const cache = new MeasurementCache(options.cacheDir, readEnv(first.stats.cacheDir));
    const small = cache.getLink({ collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 1 * KiB })!;
    const large = cache.getLink({ collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 16 * MiB })!;
    for (const t of [small, large]) expect(Number.isFinite(t.timeMs) && t.timeMs > 0).toBe(true);
    expect(cache.getLink({ collective: 'reduce-scatter', groupSize: 2, nodes: 1, bytes: 1 * MiB })!.emulated).toBe(true);
    expect(profile.provenance.notes?.some((n) => n.includes('reduce-scatter emulated'))).toBe(true);
    expect(profile.overlapSlowdown).toBeGreaterThanOrEqual(0);
  });

  it('a second run measures nothing new', async () => {
    const again = await measureProfile(options);
    expect(again.stats.measured).toBe(0);
    expect(again.stats.fromCache).toBe(first.stats.tasks);
    expect(again.profile!.layers.map((e) => e.forwardMs)).toEqual(first.profile!.layers.map((e) => e.forwardMs));
  }, 60_000);

  it('an interrupted run keeps what finished and the next run measures only the rest', () => {
    expect(cut.stats.interrupted).toBe(true);
    expect(cut.profile).toBeUndefined();
    expect(cut.stats.measured).toBeGreaterThanOrEqual(1);
    expect(first.stats.interrupted).toBe(false);
    expect(first.stats.fromCache).toBe(cut.stats.measured);
    expect(first.stats.measured).toBe(first.stats.tasks - cut.stats.measured);
  });
});

describe('missing tools', () => {
  it('a missing interpreter is one TOOL_MISSING error naming the install and how to choose another', async () => {
    const err = await measureProfile({ ...options, python: path.join(tmp, 'no-such-python3') }).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('TOOL_MISSING');
    const msg = (err as Error).message;
    expect(msg).toContain('apt-get install python3-torch libopenblas0-pthread');
    expect(msg).toContain('--python');
    expect(msg).toContain('UNIAP_PYTHON');
  });

  it('an interpreter without torch is one TOOL_MISSING error', async () => {
    // Debian's python3 with -S does not load dist-packages, where python3-torch lives: a real
    // interpreter that cannot import torch.
    const wrapper = path.join(tmp, 'python3-without-site');
    writeFileSync(wrapper, '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n');
    chmodSync(wrapper, 0o755);
    const err = await measureProfile({ ...options, python: wrapper }).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('TOOL_MISSING');
    expect((err as Error).message).toMatch(/PyTorch is not importable by .*python3-without-site.*apt-get install python3-torch/);
  });
});

function readEnv(cacheDir: string): CacheEnvironment {
  return JSON.parse(readFileSync(path.join(cacheDir, 'environment.json'), 'utf8')) as CacheEnvironment;
}
