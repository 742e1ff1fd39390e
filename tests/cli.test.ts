// The CLI as a user meets it: real `uniap` processes, text and --json output, and bad input giving
// one error line with the fix and a non-zero exit, never a stack trace.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const fixture = (name: string) => join(root, 'tests/fixtures', name);

function uniap(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/uniap.js'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function expectOneLineError(r: { code: number | null; out: string; err: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.err.trim().split('\n');
  expect(lines[0]).toMatch(/^uniap: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
}


interface PlanFile {
  stages: { strategies: { dp: number; tp: number; cp?: number; sp?: boolean; zero?: number; selectiveRecompute?: boolean }[] }[];
  predictions: { timePerIterationMs: number };
}
const planFile = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as PlanFile;
const runsOf = (f: string) => planFile(f).stages.flatMap((st) => st.strategies);
const tpiOf = (f: string) => planFile(f).predictions.timePerIterationMs;

/** Plans `args` with and without `off` (the switches that leave a choice out); estimate reproduces both. */
function planWithAndWithout(tag: string, args: string[], off: string[]): { withIt: string; without: string } {
  const dir = mkdtempSync(join(tmpdir(), `uniap-cli-${tag}-`));
  const withIt = join(dir, `${tag}.json`);
  const without = join(dir, `no-${tag}.json`);
  const a = uniap('plan', ...args, '--out', withIt);
  expect(a.code, a.err).toBe(0);
  const b = uniap('plan', ...args, ...off, '--out', without);
  expect(b.code, b.err).toBe(0);
  for (const f of [withIt, without]) {
    const e = uniap('estimate', ...args, '--plan', f, '--json');
    expect(e.code, e.err).toBe(0);
    expect(Math.abs(JSON.parse(e.out).timePerIterationMs - tpiOf(f))).toBeLessThanOrEqual(1e-9 * tpiOf(f));
  }
  return { withIt, without };
}

describe('uniap CLI', () => {
  it('--help lists the verbs', () => {
    const r = uniap('--help');
    expect(r.code).toBe(0);
    for (const verb of ['models', 'clusters', 'describe', 'estimate', 'plan', 'profile']) expect(r.out).toContain(`uniap ${verb}`);
  });

  it('models --json lists presets with derived parameter counts', () => {
    const r = uniap('models', '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as { name: string; parameters: number }[];
    const llama = list.find((m) => m.name === 'llama-2-7b');
    expect(llama?.parameters).toBeGreaterThan(6.7e9);
  });

  it('describe works for a model preset, a cluster preset and a Hugging Face config.json', () => {
    expect(uniap('describe', 'llama-2-70b').out).toMatch(/68\.98B/);
    expect(uniap('describe', 'h100-4x8').out).toMatch(/32 devices/);
    const hf = uniap('describe', '--model', join(root, 'configs/fixtures/hf/llama-2-7b.json'), '--json');
    expect(hf.code).toBe(0);
    expect(JSON.parse(hf.out).derived.parameters).toBe(6738415616);
  });

  it('plan searches ZeRO-1/2 per layer (Llama-2-7B on 8 H100 uses them), --no-zero leaves them out, and estimate reproduces both', () => {
    const { withIt, without } = planWithAndWithout('zero', ['--model', 'llama-2-7b', '--cluster', 'h100-1x8', '--batch', '64'], ['--no-zero']);
    expect(runsOf(withIt).some((r) => r.zero === 1 || r.zero === 2)).toBe(true);
    expect(runsOf(without).every((r) => r.zero === undefined)).toBe(true);
    expect(tpiOf(withIt)).toBeLessThanOrEqual(tpiOf(without) * (1 + 1e-9)); // the larger space is never worse
  });

  it('plan searches sequence parallelism and selective recomputation (Llama-2-70B on 32 H100 at batch 8 without cp uses sp), --no-sp --no-selective-recompute leave them out, and estimate reproduces both', () => {
    const args = ['--model', 'llama-2-70b', '--cluster', 'h100-4x8', '--batch', '8', '--max-cp', '1'];
    const { withIt, without } = planWithAndWithout('sp', args, ['--no-sp', '--no-selective-recompute']);
    expect(runsOf(withIt).some((r) => r.sp === true && r.tp > 1)).toBe(true);
    expect(runsOf(without).every((r) => r.sp === undefined && r.selectiveRecompute === undefined)).toBe(true);
    expect(tpiOf(withIt)).toBeLessThan(tpiOf(without)); // sp pays here: the same tp8 with less activation memory
  });

  it('plan searches context parallelism (Llama-3.1-8B at 128k tokens on 8 H100 uses cp), --max-cp 1 leaves it out, and estimate reproduces both', () => {
    const args = ['--model', 'llama-3.1-8b-128k', '--cluster', 'h100-1x8', '--batch', '1'];
    const shown = uniap('plan', ...args);
    expect(shown.out).toMatch(/cp8/);
    expect(shown.out).toMatch(/Sequence length: 131072 tokens/);
    const { withIt, without } = planWithAndWithout('cp', args, ['--max-cp', '1']);
    expect(runsOf(withIt).some((x) => (x.cp ?? 1) > 1)).toBe(true);
    expect(runsOf(without).every((x) => x.cp === undefined)).toBe(true);
    expect(tpiOf(withIt)).toBeLessThan(tpiOf(without)); // cp's exchanges beat tp8's all-reduces at 128k tokens
    expectOneLineError(uniap('plan', ...args, '--max-cp', '0'), /--max-cp must be a positive integer, got 0/);
  });

  it('estimate evaluates a hand-written plan: breakdown, memory per stage, verdict', () => {
    const r = uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:4', '--plan', fixture('tiny-gpt-2stage.plan.json'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Time per iteration: .*compute .*exposed communication .*pipeline bubble/);
    expect(r.out).toMatch(/fits/);
    const j = JSON.parse(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:4', '--plan', fixture('tiny-gpt-2stage.plan.json'), '--json').out);
    expect(j.memory).toHaveLength(2);
    expect(j.breakdown.computeMs + j.breakdown.exposedCommMs + j.breakdown.bubbleMs).toBeCloseTo(j.timePerIterationMs, 6);
  });

  it('estimate gives an OOM verdict and exit 3 when a stage does not fit', () => {
    const r = uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:4', '--plan', fixture('tiny-gpt-2stage.plan.json'), '--memory-gb', '0.001');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/OOM/);
    expect(r.out).toMatch(/Does not fit: memory of stage 0/);
  });

  it('plans and compares clusters of any device count: 3 x 8 H100, local-cpu:6, one CPU, one H100', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uniap-cli-any-'));
    const h100 = JSON.parse(readFileSync(join(root, 'configs/clusters/h100-4x8.json'), 'utf8'));
    const threeNodes = join(dir, 'h100-3x8.json');
    writeFileSync(threeNodes, JSON.stringify({ ...h100, name: 'h100-3x8', nodes: [{ ...h100.nodes[0], count: 3 }] }));
    const one = { ...h100, name: 'h100-1x1', nodes: [{ ...h100.nodes[0], count: 1, devices: 1 }] };
    delete one.interNodeLink;
    const single = join(dir, 'h100-1x1.json');
    writeFileSync(single, JSON.stringify(one));
    // 24 devices: dp degrees such as 12 and 8 meet inside a stage (the reshard once asked for rank 24).
    const plan24 = join(dir, 'p24.json');
    const p = uniap('plan', '--model', 'llama-2-7b', '--cluster', threeNodes, '--batch', '96', '--out', plan24);
    // Nothing on stderr but the progress lines of a search longer than 2 s.
    expect(p.err.split('\n').filter((l) => l && !l.startsWith('searching: '))).toEqual([]);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/proven optimal/);
    const e = uniap('estimate', '--model', 'llama-2-7b', '--cluster', threeNodes, '--plan', plan24);
    expect(e.code, e.err).toBe(0);
    const c = uniap('compare', '--model', 'llama-2-7b', '--cluster', threeNodes, '--batch', '96');
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/Megatron uniform, fastest/);
    for (const [cluster, batch] of [['local-cpu:6', '12'], ['local-cpu:1', '8'], [single, '4']] as const) {
      const r = uniap('plan', '--model', cluster === single ? 'gpt-3-1.3b' : 'tiny-gpt', '--cluster', cluster, '--batch', batch);
      expect(r.err, cluster).toBe('');
      expect(r.code, cluster).toBe(0);
      expect(r.out, cluster).toMatch(/proven optimal/);
    }
  });

  it('estimate judges memory against the given cluster\'s devices, not the budget written in the plan, and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uniap-cli-budget-'));
    const planPath = join(dir, 'p.json');
    expect(uniap('plan', '--model', 'gpt-3-6.7b', '--cluster', 'paper-titanxp-2x4', '--batch', '16', '--memory-gb', '200', '--out', planPath).code).toBe(0);
    const r = uniap('estimate', '--model', 'gpt-3-6.7b', '--cluster', 'paper-titanxp-2x4', '--plan', planPath);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/OOM/);
    expect(r.out).toMatch(/usable per device/);
    expect(r.out).toMatch(/Note: the plan was made for 200\.00 GiB usable per device; memory is judged against the \d+\.\d\d GiB usable on paper-titanxp-2x4's devices \(pass --memory-gb 200/);
    const same = uniap('estimate', '--model', 'gpt-3-6.7b', '--cluster', 'paper-titanxp-2x4', '--plan', planPath, '--memory-gb', '200');
    expect(same.code).toBe(0);
    expect(same.out).not.toMatch(/Note:/);
  });

  it('plan --out writes a plan that estimate reproduces exactly; a changed model or batch is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uniap-plan-'));
    const out = join(dir, 'sub', 'plan.json');
    expect(uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '8', '--out', out).code).toBe(0);
    const plan = JSON.parse(readFileSync(out, 'utf8'));
    const est = JSON.parse(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--plan', out, '--json').out);
    expect(est.timePerIterationMs).toBe(plan.predictions.timePerIterationMs);
    expectOneLineError(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--plan', out, '--batch', '4'), /--batch 4 differs from the plan's global batch 8/);
    plan.model.fingerprint = '0123456789abcdef';
    writeFileSync(out, JSON.stringify(plan));
    expectOneLineError(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--plan', out), /was made for model tiny-gpt with fingerprint 0123456789abcdef, but --model tiny-gpt has fingerprint/);
    expectOneLineError(uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '8', '--out', join(out, 'x.json')), /cannot write the plan to .*; choose a writable path for --out/);
  });

  describe('bad input: one line naming the problem and the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uniap-cli-'));
    const write = (name: string, v: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
      return p;
    };
    it('a bad number option', () => expectOneLineError(uniap('plan', '--model', 'tiny-gpt', '--cluster', 'local-cpu:2', '--batch', '0'), /--batch must be a positive integer, got 0/));
    it('a directory given as a file', () => {
      expectOneLineError(uniap('describe', '--model', dir), /is a directory, not a model file/);
      expectOneLineError(uniap('describe', '--cluster', dir), /is a directory, not a cluster file/);
    });
    it('missing file', () => expectOneLineError(uniap('describe', '--model', join(dir, 'nope.json')), /not found/));
    it('unknown preset', () => expectOneLineError(uniap('describe', 'gpt-5'), /neither a model nor a cluster preset/));
    it('broken JSON', () => expectOneLineError(uniap('describe', '--model', write('broken.json', '{"name": ')), /JSON/));
    it('unknown key in a model', () => {
      const p = write('m.json', { name: 'm', family: 'decoder-only', hiddenSize: 64, heads: 4, seqLength: 8, vocabSize: 10, blocks: [{ type: 'decoder' }], colour: 'red' });
      expectOneLineError(uniap('describe', '--model', p), /at \$\.colour: unknown key "colour"; remove it/);
    });
    it('negative size in a cluster', () => {
      const p = write('c.json', { name: 'c', nodes: [{ deviceType: 'H100-SXM', devices: -8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 450 } }] });
      expectOneLineError(uniap('describe', '--cluster', p), /at \$\.nodes\[0\]\.devices/);
    });
    type FixturePlan = any; // a plan file edited to be wrong on purpose: untyped JSON
    /** `estimate` on tiny-gpt-2stage.plan.json after `edit` (local-cpu:4). */
    const estimateEditedFixture = (name: string, edit: (p: FixturePlan) => void) => {
      const plan = JSON.parse(readFileSync(fixture('tiny-gpt-2stage.plan.json'), 'utf8')) as FixturePlan;
      edit(plan);
      return uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:4', '--plan', write(name, plan));
    };
    it('a plan whose degrees do not multiply to the stage size', () => {
      const plan = JSON.parse(readFileSync(fixture('tiny-gpt-2stage.plan.json'), 'utf8'));
      plan.stages[1].strategies[0].dp = 4;
      const p = write('plan.json', plan);
      expectOneLineError(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:4', '--plan', p), /dp 4 x tp 1 = 4 but the stage has 2 devices; choose dp and tp with dp \* tp = 2/);
    });
    it('sequence parallelism without tensor parallelism, on a layer without a sequence-parallel form, and two recomputation granularities at once', () => {
      const run = (edit: (p: FixturePlan) => void) => estimateEditedFixture('plan-sp.json', edit);
      expectOneLineError(run((p) => (p.stages[1].strategies[0].sp = true)), /"sp": true with tp 1; .*use tp > 1 or leave out sp/);
      expectOneLineError(
        run((p) => {
          p.stages[0].strategies = [{ layers: [0, 2], dp: 1, tp: 2, sp: true }];
        }),
        /layer 0 \(embedding\): "sp": true, but an embedding layer has no sequence-parallel form .*leave out sp for that layer/,
      );
      expectOneLineError(run((p) => (p.stages[0].strategies[1].selectiveRecompute = true)), /"selectiveRecompute" together with "recompute": true.*choose one granularity/);
      // and the valid form of the same plan evaluates
      const ok = run((p) => {
        p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 2, sp: true, selectiveRecompute: true };
      });
      expect(ok.code, ok.err).toBe(0);
    });
    it('context parallelism on a layer without the form, with sp, or not multiplying to the stage', () => {
      const run = (edit: (p: FixturePlan) => void) => estimateEditedFixture('plan-cp.json', edit);
      expectOneLineError(run((p) => (p.stages[0].strategies = [{ layers: [0, 2], dp: 1, tp: 1, cp: 2 }])), /layer 0 \(embedding\): "cp": 2, but an embedding layer has no context-parallel form .*leave out cp for that layer/);
      expectOneLineError(run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 1, cp: 2, sp: true })), /"cp": 2 together with "sp": true; choose one way to split the sequence/);
      expectOneLineError(run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 1, cp: 4 })), /dp 1 x cp 4 x tp 1 = 4 but the stage has 2 devices; choose dp, cp and tp with dp \* cp \* tp = 2/);
      expectOneLineError(run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 2, cpComm: 'p2p' })), /"cpComm": "p2p" without context parallelism; set "cp" > 1 or leave out cpComm/);
      expectOneLineError(run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 1, cp: 2, cpComm: 'p2p', selectiveRecompute: true })), /"selectiveRecompute" with ring attention \("cpComm": "p2p"\); use "cpComm": "a2a"/);
      const ring = run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 1, cp: 2, cpComm: 'p2p', recompute: true }));
      expect(ring.code, ring.err).toBe(0);
      const ok = run((p) => (p.stages[0].strategies[1] = { layers: [1, 2], dp: 1, tp: 1, cp: 2, selectiveRecompute: true }));
      expect(ok.code, ok.err).toBe(0);
    });
    it('a plan for another cluster size', () => {
      expectOneLineError(uniap('estimate', '--model', 'tiny-gpt', '--cluster', 'local-cpu:8', '--plan', fixture('tiny-gpt-2stage.plan.json')), /uses 4 devices .* has 8/);
    });
  });
});
