// Reading measured runs: CSV and JSON resolve to one type with times in ms; every bad row is one
// UniapError line naming the file, the row and the fix.
import { describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { parseRunsCsv, parseRunsJson } from './runs.ts';

const HEADER = 'source,model,layers,hidden,heads,seq_length,gpu,gpus,tp,pp,micro_batch,global_batch,recompute,metric,value,notes';

describe('measured runs', () => {
  it('reads a CSV with comments and quoted cells; converts each metric to ms per iteration', () => {
    const csv = [
      '# a comment line citing the source',
      HEADER,
      'set-a,gpt-1.3b,24,2048,16,2048,A100-80GB-SXM,16,2,2,4,64,full,iteration_time_s,1.5,"a, quoted note"',
      'set-a,gpt-1.3b,24,2048,16,2048,A100-80GB-SXM,16,1,1,2,64,none,tokens_per_s_per_gpu,4096,',
    ].join('\n');
    const [a, b] = parseRunsCsv(csv, 'runs.csv');
    expect(a).toMatchObject({ source: 'set-a', tp: 2, pp: 2, dp: 4, gpus: 16, gpusPerNode: 8, recompute: 'full', timeMs: 1500, memoryBytes: null });
    expect(a!.shape).toEqual({ arch: 'gpt', layers: 24, hidden: 2048, heads: 16, kvHeads: 16, ffn: 8192, vocab: 51200, seqLength: 2048 });
    // 64 samples x 2048 tokens / (4096 tokens/s/GPU x 16 GPUs) = 2 s.
    expect(b!.timeMs).toBeCloseTo(2000, 9);
    expect(b!.dp).toBe(16);
  });

  it('reads JSON runs with a preset model and a cluster', () => {
    const [r] = parseRunsJson([{ model: 'tiny-gpt', cluster: 'local-cpu:2', gpus: 2, dp: 2, micro_batch: 2, global_batch: 8, time_ms: 120, memory_gb: 0.5 }], 'runs.json');
    expect(r).toMatchObject({ model: 'tiny-gpt', shape: null, cluster: 'local-cpu:2', tp: 1, pp: 1, dp: 2, timeMs: 120, memoryBytes: 0.5 * 2 ** 30 });
  });

  const bad: [string, string, RegExp][] = [
    ['degrees that do not multiply', 'x,m,24,2048,16,2048,A100-80GB-SXM,16,3,2,4,64,none,iteration_time_s,1,', /runs.csv row 1: tp 3 x pp 2 = 6 does not divide gpus 16/],
    ['a batch not split in whole micro-batches', 'x,m,24,2048,16,2048,A100-80GB-SXM,16,2,2,3,64,none,iteration_time_s,1,', /row 1: global_batch 64 is not a multiple of micro_batch 3 x dp 4/],
    ['an unknown metric', 'x,m,24,2048,16,2048,A100-80GB-SXM,16,2,2,4,64,none,mfu,0.5,', /row 1: metric "mfu" is not one of/],
    ['an unknown recompute', 'x,m,24,2048,16,2048,A100-80GB-SXM,16,2,2,4,64,some,iteration_time_s,1,', /row 1: recompute "some" is not one of none, selective, full/],
    ['a negative value', 'x,m,24,2048,16,2048,A100-80GB-SXM,16,2,2,4,64,none,iteration_time_s,-1,', /row 1: value "-1" is not a positive number/],
    ['a short row', 'x,m,24', /row 1: 3 cells but the header has 16 columns/],
  ];
  for (const [what, row, message] of bad) {
    it(`refuses ${what} with one line naming the row`, () => {
      let err: unknown;
      try {
        parseRunsCsv(`${HEADER}\n${row}\n`, 'runs.csv');
      } catch (e) {
        err = e;
      }
      expect(isUniapError(err) && err.code).toBe('CONFIG_INVALID');
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('refuses an unknown column (a typo is not ignored)', () => {
    expect(() => parseRunsCsv('model,tpp\nm,2\n', 'runs.csv')).toThrow(/unknown column "tpp"/);
  });
});
