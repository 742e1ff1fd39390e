// Benchmark: the executor's data-parallel-only plan against plain PyTorch DDP of the same model in the
// same run (throughput ratio; target >= 0.95x), and the share of each step spent blocked on
// communication with and without overlap (dp and fsdp plans). Runs alternate round by round so that
// load from other processes hits every variant alike; numbers are medians over steps after warm-up.
//
//   npx tsx bench/runtime-dp-vs-ddp.ts [--model tiny-gpt] [--ranks 2] [--steps 30] [--warmup 5]
//       [--batch 16] [--micro 2] [--rounds 3] [--threads 1] [--json]
import { median } from '../planner/validation/metrics.ts';
import { withFacts } from '../configs/model-facts.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../configs/model-presets.ts';
import type { StepEvent } from '../common/executor-events.ts';
import { describeFailures, runLocal, type ExecutorModule } from '../runtime/executor/run-local.ts';
import { uniformPlan } from '../planner/plan-sketch.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const json = process.argv.includes('--json');
const modelName = arg('model', 'tiny-gpt');
const ranks = Number(arg('ranks', '2'));
const steps = Number(arg('steps', '30'));
const warmup = Number(arg('warmup', '5'));
const batch = Number(arg('batch', '16'));
const micro = Number(arg('micro', '2'));
const rounds = Number(arg('rounds', '3'));
const threads = arg('threads', '1');

interface Variant {
  name: string;
  module: ExecutorModule;
  fsdp: boolean;
  noOverlap: boolean;
}
const variants: Variant[] = [
  { name: 'uniap dp (overlap)', module: 'uniap_exec.main', fsdp: false, noOverlap: false },
  { name: 'torch DDP', module: 'uniap_exec.ddp_baseline', fsdp: false, noOverlap: false },
  { name: 'uniap dp (no overlap)', module: 'uniap_exec.main', fsdp: false, noOverlap: true },
  { name: 'uniap fsdp (overlap)', module: 'uniap_exec.main', fsdp: true, noOverlap: false },
  { name: 'uniap fsdp (no overlap)', module: 'uniap_exec.main', fsdp: true, noOverlap: true },
];


async function main(): Promise<void> {
  const model = loadModel(modelName);
  const dir = mkdtempSync(join(tmpdir(), 'uniap-bench-'));
  const modelPath = join(dir, 'model.json');
  writeFileSync(modelPath, JSON.stringify(withFacts(model))); // plans below are built or searched by uniap, so valid
  const times = new Map<string, number[]>();
  const shares = new Map<string, number[]>();
  const losses = new Map<string, number>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        const plan = uniformPlan(model, ranks, { dp: ranks, tp: 1, fsdp: v.fsdp }, { globalBatch: batch, microBatches: micro });
        const planPath = join(dir, `plan-${v.fsdp ? 'fsdp' : 'dp'}.json`);
        writeFileSync(planPath, JSON.stringify(plan));
        const results = await runLocal({
          planPath, modelPath, steps, worldSize: ranks, module: v.module, noOverlap: v.noOverlap,
          env: { UNIAP_NUM_THREADS: threads }, timeoutMs: 600_000,
        });
        const failures = describeFailures(results);
        if (failures) throw new Error(`${v.name}: ${failures}`);
        // A step ends when its slowest rank ends: per step, the max over ranks.
        const perStep = new Map<number, StepEvent[]>();
        for (const r of results) for (const e of r.events) if (e.event === 'step' && e.step > warmup) (perStep.get(e.step) ?? perStep.set(e.step, []).get(e.step)!).push(e);
        const stepTimes = [...perStep.values()].map((es) => Math.max(...es.map((e) => e.timeMs)));
        const share = [...perStep.values()].flat().reduce((a, e) => a + e.exposedCommMs, 0) / [...perStep.values()].flat().reduce((a, e) => a + e.timeMs, 0);
        (times.get(v.name) ?? times.set(v.name, []).get(v.name)!).push(...stepTimes);
        (shares.get(v.name) ?? shares.set(v.name, []).get(v.name)!).push(share);
        const last = results[0]!.events.filter((e): e is StepEvent => e.event === 'step').at(-1);
        if (last?.loss != null) losses.set(v.name, last.loss);
        if (!json) process.stderr.write(`round ${round + 1}/${rounds}: ${v.name}: median ${median(stepTimes).toFixed(1)} ms/step\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = variants.map((v) => {
    const t = median(times.get(v.name)!);
    // The DDP baseline does not measure its waits (they happen inside torch's reducer): null.
    const share = v.module === 'uniap_exec.ddp_baseline' ? null : median(shares.get(v.name)!);
    return { variant: v.name, msPerStep: t, samplesPerSecond: (batch / t) * 1000, exposedCommShare: share, finalLoss: losses.get(v.name) ?? null };
  });
  const tput = (n: string) => rows.find((r) => r.variant === n)!.samplesPerSecond;
  const summary = {
    model: modelName, ranks, steps, warmup, globalBatch: batch, microBatches: micro, rounds, threadsPerRank: Number(threads),
    rows,
    dpVsDdpThroughput: tput('uniap dp (overlap)') / tput('torch DDP'),
    dpNoOverlapVsDdpThroughput: tput('uniap dp (no overlap)') / tput('torch DDP'),
  };
  if (json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  console.log(`model ${modelName}, ${ranks} ranks (Gloo, ${threads} thread each), global batch ${batch} in ${micro} micro-batches, ${steps} steps (${warmup} warm-up) x ${rounds} rounds`);
  console.log('variant                    ms/step  samples/s  exposed comm share  final loss');
  for (const r of rows) {
    console.log(`${r.variant.padEnd(26)} ${r.msPerStep.toFixed(1).padStart(7)}  ${r.samplesPerSecond.toFixed(1).padStart(9)}  ${(r.exposedCommShare === null ? 'n/a' : `${(100 * r.exposedCommShare).toFixed(1)}%`).padStart(18)}  ${r.finalLoss?.toFixed(5) ?? '-'}`);
  }
  console.log(`uniap dp / torch DDP throughput: ${summary.dpVsDdpThroughput.toFixed(3)}x (target >= 0.95x); without overlap: ${summary.dpNoOverlapVsDdpThroughput.toFixed(3)}x`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
