import { describe, expect, it } from 'vitest';
import { kendallTau, mape, regret } from './metrics.ts';

describe('validation metrics', () => {
  it('MAPE is the mean relative error', () => {
    expect(mape([{ predicted: 110, measured: 100 }, { predicted: 45, measured: 50 }])).toBeCloseTo(0.1, 12);
  });
  it('Kendall tau-b: 1 for the same order, -1 reversed, tie-corrected otherwise', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    // 5 concordant, 1 discordant of 6 pairs, no ties: (5 - 1) / 6
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
    // ties in x: tau-b = (C - D) / sqrt((C + D + Tx)(C + D + Ty)) with C=5, D=0, Tx=1, Ty=0
    expect(kendallTau([1, 1, 2, 3], [1, 2, 3, 4])).toBeCloseTo(5 / Math.sqrt(6 * 5), 12);
    expect(kendallTau([1], [1])).toBeNaN();
  });
  it('regret is what picking the predicted-best costs against the measured best', () => {
    expect(regret([3, 2, 1], [30, 20, 10])).toBe(0);
    expect(regret([1, 3, 2], [30, 20, 10])).toBeCloseTo(0.5, 12);
  });
});
