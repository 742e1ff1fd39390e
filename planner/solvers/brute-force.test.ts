import { describe, expect, it } from 'vitest';
import { randomTables } from './random-instance.ts';
import { bruteForceCount, bruteForceSolver, BRUTE_FORCE_LIMIT } from './brute-force.ts';
import { isUniapError } from '../../common/errors.ts';

describe('brute force', () => {
  it('counts partitions times strategy choices', () => {
    const t = randomTables(1, { layers: 5, stages: 3, strategies: 2 });
    t.allowed = t.allowed.map((r) => r.map(() => true));
    expect(bruteForceCount(t)).toBe(6 * 2 ** 5); // C(4, 2) partitions
  });

  it('refuses instances above its limit with a clear error', async () => {
    const t = randomTables(2, { layers: 40, stages: 4, strategies: 4 });
    t.allowed = t.allowed.map((r) => r.map(() => true));
    expect(bruteForceCount(t)).toBeGreaterThan(BRUTE_FORCE_LIMIT);
    const e = await bruteForceSolver.solve(t).catch((x: unknown) => x);
    expect(isUniapError(e) && e.code).toBe('UNSUPPORTED');
    expect(String((e as Error).message)).toMatch(/--solver exact/);
  });
});
