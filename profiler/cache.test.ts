// The measurement cache: keyed by environment, appended per record, torn lines ignored.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CacheEnvironment, defaultCacheRoot, environmentKey, MeasurementCache } from './cache.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'uniap-cache-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const env: CacheEnvironment = {
  hardware: 'cpu:Test CPU',
  kind: 'cpu',
  backend: 'gloo',
  python: '3.11.2',
  torch: '1.13.1',
  cuda: '',
  nccl: '',
  driver: '',
  blas: 'open',
  processes: 2,
  threadsPerProcess: 1,
  code: 'abc',
  method: 'warmup3-reps10',
};
const layerKey = { shapeKey: 'decoder:h=128', variant: '', dtype: 'fp32', microBatch: 2, tp: 1 };
const layer = { forwardMs: 1, backwardMs: 2, spread: 0.1, activationBytes: 10, workingSetBytes: 5, parameterBytes: 7, memoryMethod: 'x', repetitions: 3 };

describe('MeasurementCache', () => {
  it('stores records, reloads them from disk and describes its environment', () => {
    const root = path.join(tmp, 'a');
    const c = new MeasurementCache(root, env);
    expect(c.getLayer(layerKey)).toBeUndefined();
    c.putLayer(layerKey, layer);
    c.putLink({ collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 1024 }, { timeMs: 0.2, spread: 0.1, repetitions: 5, emulated: false });
    c.putOverlap({ slowdown: 0.2, computeAloneMs: 10, commAloneMs: 5, computeOverlappedMs: 11 });
    const again = new MeasurementCache(root, env);
    expect(again.getLayer(layerKey)).toEqual(layer);
    expect(again.getLink({ collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 1024 })?.timeMs).toBe(0.2);
    expect(again.getLink({ collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 2048 })).toBeUndefined();
    expect(again.getOverlap()?.slowdown).toBe(0.2);
    expect(again.getLayer({ ...layerKey, variant: 'pos=rope' })).toBeUndefined();
    expect(JSON.parse(readFileSync(path.join(c.dir, 'environment.json'), 'utf8'))).toEqual(env);
  });

  it('keys by environment: other versions, process counts or repetition counts see nothing', () => {
    const root = path.join(tmp, 'b');
    new MeasurementCache(root, env).putLayer(layerKey, layer);
    expect(new MeasurementCache(root, { ...env, torch: '2.3.0' }).getLayer(layerKey)).toBeUndefined();
    expect(new MeasurementCache(root, { ...env, processes: 4 }).getLayer(layerKey)).toBeUndefined();
    expect(new MeasurementCache(root, { ...env, method: 'warmup1-reps3' }).getLayer(layerKey)).toBeUndefined();
    expect(environmentKey({ ...env })).toBe(environmentKey(env));
  });

  it('ignores a line torn by an interrupted write', () => {
    const root = path.join(tmp, 'c');
    const c = new MeasurementCache(root, env);
    c.putLayer(layerKey, layer);
    appendFileSync(c.file, '{"kind":"layer","key":"dec');
    const again = new MeasurementCache(root, env);
    expect(again.size).toBe(1);
    again.putLayer({ ...layerKey, microBatch: 4 }, layer);
    expect(new MeasurementCache(root, env).getLayer({ ...layerKey, microBatch: 4 })).toEqual(layer);
  });

  it('lives under $UNIAP_CACHE_DIR, $XDG_CACHE_HOME/uniap or ~/.cache/uniap', () => {
    expect(defaultCacheRoot({ UNIAP_CACHE_DIR: '/x/y' })).toBe('/x/y');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/xdg' })).toBe(path.join('/xdg', 'uniap'));
    expect(defaultCacheRoot({})).toBe(path.join(os.homedir(), '.cache', 'uniap'));
    expect(existsSync(tmp)).toBe(true);
  });
});
