import { describe, expect, it } from 'vitest';
import { loadModel } from '../configs/model-presets.ts';
import { layerForwardFlopsPerSample } from '../configs/model-derive.ts';
import { layerOps, layerTimesMs, type OpFactors } from './op-model.ts';

const H100: OpFactors = {
  peakTflops: 989, gemmEfficiency: 0.801, gemmHalfDim: 64, attentionEfficiency: 0.55, memoryBandwidthGBps: 3350,
  memoryEfficiency: 0.8, launchFloorUs: 4, flashAttention: true, dropout: false,
};

describe('per-operator layer timing', () => {
  it('the operators of every preset layer add up to the model FLOPs of that layer (unfused attention, tp 1)', () => {
    for (const name of ['llama-2-7b', 'gpt-3-13b', 't5-large', 'swin-huge', 'vit-huge', 'bert-large']) {
      const m = loadModel(name);
      for (const l of m.layers) {
        const ops = layerOps(l, 2, 1, { flashAttention: false, dropout: true });
        const flops = ops.reduce((s, o) => s + o.flops, 0);
        expect(flops / (2 * layerForwardFlopsPerSample(l) || 1), `${name} ${l.name}`).toBeCloseTo(l.type === 'embedding' ? 0 : 1, 6);
      }
    }
  });

  it('causal FlashAttention skips half the score FLOPs; tp splits the work', () => {
    const l = loadModel('llama-2-7b').layers[1]!;
    const full = layerOps(l, 1, 1, { flashAttention: false, dropout: false }).filter((o) => o.name.startsWith('self-attention')).reduce((s, o) => s + o.flops, 0);
    const flash = layerOps(l, 1, 1, { flashAttention: true, dropout: false }).find((o) => o.kind === 'attention')!.flops;
    expect(flash / full).toBeCloseTo(0.5, 12);
    const t1 = layerOps(l, 1, 1, H100).reduce((s, o) => s + o.flops, 0);
    const t4 = layerOps(l, 1, 4, H100).reduce((s, o) => s + o.flops, 0);
    expect(t1 / t4).toBeCloseTo(4, 12);
  });

  it('small GEMMs run below peak: a high tp gains less on a narrow model than on a wide one', () => {
    const small = loadModel('gpt-3-1.3b').layers[1]!;
    const big = loadModel('llama-2-70b').layers[1]!;
    const speedup = (l: typeof small, tp: number) => {
      const a = layerTimesMs(l, 1, 1, H100);
      const b = layerTimesMs(l, 1, tp, H100);
      return (a.forwardMs + a.backwardMs) / (b.forwardMs + b.backwardMs);
    };
    // Norms and residuals stay replicated under tp (without sequence parallelism), so neither is 8x.
    expect(speedup(big, 8)).toBeGreaterThan(6);
    expect(speedup(small, 8)).toBeLessThan(speedup(big, 8) - 0.5);
    // Backward costs 2-2.5x forward for a block.
    const t = layerTimesMs(big, 1, 1, H100);
    expect(t.backwardMs / t.forwardMs).toBeGreaterThan(1.9);
    expect(t.backwardMs / t.forwardMs).toBeLessThan(2.6);
  });

  it('a layer never takes less than its kernels launch floors', () => {
    const tiny = loadModel('tiny-gpt').layers[1]!;
    const ops = layerOps(tiny, 1, 1, H100);
    const t = layerTimesMs(tiny, 1, 1, H100);
    expect(t.forwardMs).toBeGreaterThanOrEqual((ops.length * H100.launchFloorUs) / 1e3 - 1e-12);
  });
});
