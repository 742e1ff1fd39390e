import { describe, expect, it } from 'vitest';
import { randomTables, Rng } from '../solvers/random-instance.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import type { CostTables } from '../cost-model/tables.ts';
import { minPeakMemory } from './min-memory.ts';
import { scheduleDominates } from './dominance.ts';

/** min over all placements of the largest stage memory, by enumeration. */
function bruteMinPeak(t: CostTables): number {
  const opts = t.allowed.map((row) => row.flatMap((ok, k) => (ok ? [k] : [])));
  let best = Infinity;
  const starts: number[] = [0];
  const rec = (i: number, from: number) => {
    if (i === t.stages) {
      const idx = new Array<number>(t.layers).fill(0);
      for (;;) {
        const ev = evaluatePlacement(t, { stageStart: starts, strategy: idx.map((j, u) => opts[u]![j]!) });
        best = Math.min(best, Math.max(...ev.memoryPerStageBytes));
        let u = t.layers - 1;
        while (u >= 0 && idx[u] === opts[u]!.length - 1) idx[u--] = 0;
        if (u < 0) return;
        idx[u]!++;
      }
    }
    for (let s = from; s <= t.layers - (t.stages - i); s++) {
      starts.push(s);
      rec(i + 1, s + 1);
      starts.pop();
    }
  };
  rec(1, 1);
  return best;
}

describe('least peak memory (docs/planner.md S4)', () => {
  it('equals enumeration on random instances (to the bisection tolerance)', () => {
    const rng = new Rng(77);
    for (let s = 0; s < 80; s++) {
      const L = rng.int(1, 6);
      const t = randomTables(3000 + s, { layers: L, stages: rng.int(1, Math.min(3, L)), strategies: rng.int(1, 3) });
      const want = bruteMinPeak(t);
      const got = minPeakMemory(t).bytes;
      expect(got, `seed ${s}`).toBeGreaterThanOrEqual(want * (1 - 1e-9));
      expect(got, `seed ${s}`).toBeLessThanOrEqual(want * (1 + 2e-6));
    }
  });
});

describe('schedule dominance', () => {
  it('holds only when tables differ in fewer in-flight micro-batches alone', () => {
    const a = randomTables(5, { layers: 5, stages: 3, strategies: 3, schedule: '1f1b', microBatches: 4 });
    const b = { ...a, schedule: 'gpipe' as const, inFlight: [4, 4, 4] };
    expect(a.inFlight).toEqual([3, 2, 1]);
    expect(scheduleDominates(a, b)).toBe(true);
    expect(scheduleDominates(b, a)).toBe(false);
    const c = { ...b, cost: b.cost.map((r) => r.map((x) => ({ ...x, timeMs: x.timeMs * 2 }))) };
    expect(scheduleDominates(a, c)).toBe(false);
  });
});
