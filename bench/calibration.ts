// Benchmark: predicted vs measured time per iteration on this machine's CPUs (local-cpu:2 and :4,
// Gloo), before and after calibration, in one run. For each cluster it runs the calibration plans
// through launch (runtime/calibrate: dp, tp, fsdp, pp GPipe and 1F1B, mixed, recompute, ...), fits
// the factors on some and reports, per plan and for the held-out plans, the error and the rank
// correlation of the datasheet profile (before) and of the calibrated one (after). Then it plans with
// the calibrated profile and runs the planner's choice: is it the measured-fastest of the plans run,
// or within 5% of it?
//
//   npx tsx bench/calibration.ts [--clusters local-cpu:2,local-cpu:4] [--model tiny-gpt] [--batch 16]
//       [--plans 12] [--steps 16] [--warmup 4] [--save runs.json] [--load runs.json] [--json]
//
// --save writes the measurements; --load refits saved ones without running anything (the same
// numbers with another fit). Timings from a shared machine: the load average is printed with them.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { loadCluster } from '../configs/cluster-presets.ts';
import { loadModel } from '../configs/model-presets.ts';
import { prepareCostModel } from '../planner/cost-model/input.ts';
import { fitCalibration, type CalibrationFit } from '../planner/calibration/fit.ts';
import { heldOutMask, type NamedPlan } from '../planner/calibration/plans.ts';
import { searchPlan } from '../planner/search/search.ts';
import { applyCalibration } from '../profiler/calibration.ts';
import { choosePlans, datasheetBase } from '../runtime/calibrate/calibrate.ts';
import { measurePlans, type MeasuredPlan } from '../runtime/calibrate/measure-plans.ts';
import { sameStrategy } from '../planner/strategy.ts';
import type { Plan } from '../planner/plan.ts';
import { spearman } from '../planner/validation/metrics.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const json = process.argv.includes('--json');
const clusters = arg('clusters', 'local-cpu:2,local-cpu:4').split(',');
const modelName = arg('model', 'tiny-gpt');
const batch = Number(arg('batch', '16'));
const planCount = Number(arg('plans', '12'));
const steps = Number(arg('steps', '16'));
const warmup = Number(arg('warmup', '4'));
const savePath = process.argv.includes('--save') ? arg('save', '') : null;
const loadPath = process.argv.includes('--load') ? arg('load', '') : null;
const log = (s: string) => {
  if (!json) process.stderr.write(s);
};

interface Saved {
  cluster: string;
  measured: MeasuredPlan[];
  chosen: { plan: Plan; measured: MeasuredPlan | null } | null;
  loadAverage: number[];
}

/** Same stages and strategies: the planner's choice is one of the calibration plans. */
function samePlan(a: Plan, b: Plan): boolean {
  if (a.pipelineDegree !== b.pipelineDegree || a.microBatches !== b.microBatches || a.schedule !== b.schedule) return false;
  return a.stages.every((s, i) => {
    const t = b.stages[i]!;
    if (s.layers[0] !== t.layers[0] || s.layers[1] !== t.layers[1]) return false;
    const perLayer = (st: typeof s) => st.strategies.flatMap((r) => Array.from({ length: r.layers[1] - r.layers[0] + 1 }, () => r));
    const x = perLayer(s);
    const y = perLayer(t);
    return x.length === y.length && x.every((r, u) => sameStrategy(r, y[u]!));
  });
}

async function runCluster(clusterName: string, saved: Saved | undefined) {
  const model = loadModel(modelName);
  const cluster = loadCluster(clusterName);
  const base = datasheetBase(model, cluster, batch);
  const { plans } = choosePlans(model, cluster, base, batch, planCount);
  const mask = heldOutMask(plans.length);
  const loadAverage = [os.loadavg()[0]!];
  const measure = (ps: NamedPlan[]) =>
    measurePlans({
      model: modelName, seqLength: null, plans: ps, steps, warmup, python: null, deviceKind: 'cpu', hosts: null, redisUrl: null, localWorkers: 1, verbose: false,
      onProgress: (i, name, step) => {
        if (step === 0) log(`${clusterName}: plan ${i + 1}/${ps.length}: ${name}\n`);
      },
    });
  const measured = saved?.measured ?? (await measure(plans));
  loadAverage.push(os.loadavg()[0]!);
  const fit: CalibrationFit = fitCalibration(
    model, cluster, base,
    measured.map((m, i) => ({ name: m.name, plan: plans[i]!.plan, measuredMs: m.measuredMs, measuredMemoryBytes: m.measuredMemoryBytes, heldOut: mask[i]! })),
  );

  // The planner on the calibrated profile: its choice, run unless it is one of the plans above.
  const calibrated = applyCalibration(base, fit.factors);
  const search = await searchPlan(prepareCostModel(model, cluster, { globalBatch: batch, profile: calibrated }));
  const chosenPlan = search.plan;
  const same = plans.findIndex((p) => samePlan(p.plan, chosenPlan));
  let chosenMeasured: MeasuredPlan | null;
  if (same >= 0) chosenMeasured = measured[same]!;
  else if (saved?.chosen?.measured && samePlan(saved.chosen.plan, chosenPlan)) chosenMeasured = saved.chosen.measured;
  else chosenMeasured = (await measure([{ name: 'planner choice', plan: chosenPlan }]))[0]!;
  loadAverage.push(os.loadavg()[0]!);
  const fastest = Math.min(...measured.map((m) => m.measuredMs), chosenMeasured.measuredMs);
  const planner = {
    predictedMs: search.plan.predictions?.timePerIterationMs ?? NaN,
    measuredMs: chosenMeasured.measuredMs,
    oneOfTheCalibrationPlans: same >= 0 ? plans[same]!.name : null,
    overFastest: chosenMeasured.measuredMs / fastest - 1,
    stages: chosenPlan.pipelineDegree,
    microBatches: chosenPlan.microBatches,
    schedule: chosenPlan.schedule,
  };
  const heldOut = fit.plans.filter((p) => p.role === 'held-out');
  const sp = (which: 'predictedBeforeMs' | 'predictedAfterMs', rows = fit.plans) => spearman(rows.map((p) => p[which]), rows.map((p) => p.measuredMs));
  return {
    cluster: clusterName,
    fit,
    planner,
    spearman: { allBefore: sp('predictedBeforeMs'), allAfter: sp('predictedAfterMs'), heldOutBefore: sp('predictedBeforeMs', heldOut), heldOutAfter: sp('predictedAfterMs', heldOut) },
    saved: { cluster: clusterName, measured, chosen: { plan: chosenPlan, measured: chosenMeasured }, loadAverage: saved?.loadAverage ?? loadAverage } satisfies Saved,
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const savedAll: Saved[] = loadPath ? (JSON.parse(readFileSync(loadPath, 'utf8')) as Saved[]) : [];
  const results = [];
  for (const c of clusters) results.push(await runCluster(c, savedAll.find((s) => s.cluster === c)));
  if (savePath) writeFileSync(savePath, JSON.stringify(results.map((r) => r.saved), null, 2));
  if (json) {
    console.log(JSON.stringify(results.map(({ saved: _s, ...r }) => r), null, 2));
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const err = (p: number, m: number) => `${p >= m ? '+' : ''}${(100 * (p / m - 1)).toFixed(1)}%`;
  for (const r of results) {
    console.log(`\n${modelName} on ${r.cluster}, global batch ${batch}, ${steps} steps (${warmup} warm-up) per plan; load average ${r.saved.loadAverage.map((x) => x.toFixed(2)).join(' -> ')} on ${os.cpus().length} CPUs`);
    console.log('plan                       role      measured  before    error     after     error');
    for (const p of r.fit.plans) {
      console.log(
        `${p.name.padEnd(26)} ${p.role.padEnd(9)} ${p.measuredMs.toFixed(1).padStart(8)}  ${p.predictedBeforeMs.toFixed(1).padStart(8)}  ${err(p.predictedBeforeMs, p.measuredMs).padStart(8)}  ${p.predictedAfterMs.toFixed(1).padStart(8)}  ${err(p.predictedAfterMs, p.measuredMs).padStart(8)}`,
      );
    }
    const f = r.fit.factors;
    console.log(`factors: compute x${f.computeScale.toFixed(3)} + ${f.layerOverheadMs.toFixed(3)} ms per layer call, collective bandwidth /${f.collectiveScale.toFixed(3)}, latency x${f.latencyScale.toFixed(3)}, p2p x${f.p2pScale.toFixed(3)}, optimizer x${f.optimizerScale.toFixed(3)}, overlap slowdown ${f.overlapSlowdown.toFixed(3)}`);
    const e = (x: { timeMape: number; memoryMape: number; kendallTau?: number }) => `MAPE ${pct(x.timeMape)}, memory MAPE ${pct(x.memoryMape)}, Kendall tau ${x.kendallTau?.toFixed(2) ?? '-'}`;
    console.log(`fit plans:      before ${e(r.fit.fit.before)}; after ${e(r.fit.fit.after)}`);
    console.log(`held-out plans: before ${e(r.fit.heldOut.before)}; after ${e(r.fit.heldOut.after)}`);
    console.log(`Spearman (all plans): before ${r.spearman.allBefore.toFixed(2)}, after ${r.spearman.allAfter.toFixed(2)}; held-out: before ${r.spearman.heldOutBefore.toFixed(2)}, after ${r.spearman.heldOutAfter.toFixed(2)}`);
    const pl = r.planner;
    console.log(
      `planner on the calibrated profile: pp${pl.stages} c=${pl.microBatches} ${pl.schedule}${pl.oneOfTheCalibrationPlans ? ` (= ${pl.oneOfTheCalibrationPlans})` : ''}, predicted ${pl.predictedMs.toFixed(1)} ms, measured ${pl.measuredMs.toFixed(1)} ms, ` +
        `${pl.overFastest <= 1e-9 ? 'the measured-fastest' : `${pct(pl.overFastest)} slower than the measured-fastest`} (target: within 5%)`,
    );
  }
  console.log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
