// The driver with real measuring processes: results stream back per task, and a task that fails in
// Python stops every process with the task, the rank and the reason.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { choosePython } from '../../common/python.ts';
import { runWorkers, type WorkerEvent } from './driver.ts';

describe('runWorkers', () => {
  it('reports the finished tasks, then the failing one with its reason', async () => {
    const layer = { ...loadModel('tiny-gpt').layers[1]!, type: 'no-such-layer' };
    const events: WorkerEvent[] = [];
    const outcome = await runWorkers(
      {
        backend: 'gloo',
        device: 'cpu',
        threads: 1,
        tasks: [
          { id: 'ar', kind: 'link', collective: 'all-reduce', groupSize: 2, nodes: 1, bytes: 4096, warmup: 1, minReps: 2, maxReps: 2, budgetMs: 0 },
          // A layer type the executor does not know: build_layer raises ValueError.
          { id: 'bad', kind: 'layer', layer: layer as never, shapeKey: 'x', dtype: 'fp32', microBatch: 1, tp: 1, warmup: 0, reps: 1, seed: 1, facts: { index: (layer as { index: number }).index, type: 'no-such-layer' } as never, variant: '' },
        ],
      },
      { python: choosePython(), processes: 2, onEvent: (e) => events.push(e) },
    );
    const result = events.find((e) => e.event === 'result');
    expect(result && result.event === 'result' && result.id).toBe('ar');
    expect(result && result.event === 'result' && result.perRank.length).toBe(2);
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.taskId).toBe('bad');
    expect(outcome.oom).toBe(false);
    expect(outcome.message).toMatch(/ValueError: .*unknown layer type 'no-such-layer'/);
  }, 60_000);
});
