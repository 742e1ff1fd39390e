import { describe, it, expect } from 'vitest';
import { modelStateBytes } from './memory.ts';

// ZeRO (Rajbhandari et al. 2020), mixed-precision Adam: 16 bytes per parameter split as
// 2 (weights) + 2 (grads) + 12 (optimizer); stage 1: 4P + 12P/N, stage 2: 2P + 14P/N, stage 3: 16P/N.
describe('model-state memory (ZeRO stages)', () => {
  const P = 7e9;
  for (const N of [1, 2, 8, 64]) {
    it(`matches the ZeRO formulas with N=${N}`, () => {
      expect(modelStateBytes(P, 'bf16', 0, N).totalBytes).toBeCloseTo(16 * P, 0);
      expect(modelStateBytes(P, 'bf16', 1, N).totalBytes).toBeCloseTo(4 * P + (12 * P) / N, 0);
      expect(modelStateBytes(P, 'bf16', 2, N).totalBytes).toBeCloseTo(2 * P + (14 * P) / N, 0);
      expect(modelStateBytes(P, 'bf16', 3, N).totalBytes).toBeCloseTo((16 * P) / N, 0);
    });
  }
  it('splits the 16 bytes into weights, gradients and optimizer states', () => {
    const s = modelStateBytes(1000, 'fp16', 0, 4);
    expect([s.weightBytes, s.gradientBytes, s.optimizerBytes]).toEqual([2000, 2000, 12000]);
    const f = modelStateBytes(1000, 'fp32', 3, 4);
    expect([f.weightBytes, f.gradientBytes, f.optimizerBytes]).toEqual([1000, 1000, 2000]);
  });
});
