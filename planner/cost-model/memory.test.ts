import { describe, it, expect } from 'vitest';
import { modelStateBytes } from './memory.ts';

// bf16 AdamW as Megatron-LM --bf16 keeps it (docs/source/api-guide/dist_optimizer.md: "bf16 param,
// fp32 grads" 18 bytes, 6 + 12/d distributed) and as the executor allocates it: 2 (bf16 copy) + 4
// (fp32 grads) + 12 (fp32 master, Adam m, v); ZeRO-3 shards the fp32 states, 16P/N.
describe('model-state memory (ZeRO stages)', () => {
  const P = 7e9;
  for (const N of [1, 2, 8, 64]) {
    it(`matches the ZeRO / Megatron formulas with N=${N}`, () => {
      expect(modelStateBytes(P, 'bf16', 0, N).totalBytes).toBeCloseTo(18 * P, 0);
      expect(modelStateBytes(P, 'bf16', 1, N).totalBytes).toBeCloseTo(6 * P + (12 * P) / N, 0);
      expect(modelStateBytes(P, 'bf16', 2, N).totalBytes).toBeCloseTo(2 * P + (16 * P) / N, 0);
      expect(modelStateBytes(P, 'bf16', 3, N).totalBytes).toBeCloseTo((16 * P) / N, 0);
      expect(modelStateBytes(P, 'fp32', 0, N).totalBytes).toBeCloseTo(16 * P, 0);
      expect(modelStateBytes(P, 'fp32', 3, N).totalBytes).toBeCloseTo((16 * P) / N, 0);
    });
  }
  it('splits the bytes into weights, gradients and optimizer states', () => {
    const s = modelStateBytes(1000, 'fp16', 0, 4);
    expect([s.weightBytes, s.gradientBytes, s.optimizerBytes]).toEqual([2000, 4000, 12000]);
    const z = modelStateBytes(1000, 'bf16', 3, 4);
    expect([z.weightBytes, z.gradientBytes, z.optimizerBytes]).toEqual([1000, 1000, 2000]);
    const f = modelStateBytes(1000, 'fp32', 3, 4);
    expect([f.weightBytes, f.gradientBytes, f.optimizerBytes]).toEqual([1000, 1000, 2000]);
  });
});
