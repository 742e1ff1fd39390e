// Benchmark: the cost model's predicted time per iteration against the executor's measured one, for
// six plans on 2 local Gloo processes. The same plans are predicted twice: from a profile measured on
// this machine (profiler/measure) and from the datasheet (spec) profile. The datasheet prediction is
// the baseline. The script prints measured/predicted ratios, the Spearman rank correlation of
// predicted vs measured order, the spread of the ratios (1.00x: right up to one constant), and the
// mean |log| error.
// Plans alternate round by round, so load from other processes hits every plan alike. A step's time
// is the max over ranks; the numbers are medians over the steps after warm-up, pooled over rounds.
//
//   npx tsx bench/runtime-vs-model.ts [--steps 8] [--warmup 2] [--rounds 3] [--batch 16]
//       [--model tiny-gpt] [--cache-dir /tmp/uniap-bench-cache] [--fresh-profile] [--quick] [--json]
//
// --quick: a quick profile (1 warm-up, 3 repetitions, messages up to 4 MiB), 1 round of 6 steps.
// The profile measurements are cached under --cache-dir (quick and full apart: the profiler's cache
// key does not include the repetitions), so reruns only time the plans. On a shared machine the
// load when the profile was measured decides its scale: the script prints the load averages of
// both moments, and --fresh-profile measures the profile again in this run (into a new folder).
import { median, spearman } from '../planner/validation/metrics.ts';
import { withFacts } from '../configs/model-facts.ts';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCluster } from '../configs/cluster-presets.ts';
import { loadModel } from '../configs/model-presets.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import { prepareCostModel, type CostModelInput } from '../planner/cost-model/input.ts';
import { estimatePlan, type EstimateReport } from '../planner/estimate.ts';
import { checkPlan, parsePlan } from '../planner/plan-io.ts';
import type { Plan } from '../planner/plan.ts';
import { measureProfile } from '../profiler/measure/run.ts';
import type { Profile } from '../profiler/profile.ts';
import type { StepEvent } from '../common/executor-events.ts';
import { describeFailures, runLocal } from '../runtime/executor/run-local.ts';
import { handPlan, uniformPlan } from '../planner/plan-sketch.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const modelName = arg('model', 'tiny-gpt');
const batch = Number(arg('batch', '16'));
const steps = Number(arg('steps', quick ? '6' : '8'));
const warmup = Number(arg('warmup', '2'));
const rounds = Number(arg('rounds', quick ? '1' : '3'));
const freshProfile = process.argv.includes('--fresh-profile');
const cacheRoot = arg('cache-dir', join(tmpdir(), 'uniap-bench-cache'));
const RANKS = 2;
const CLUSTER = `local-cpu:${RANKS}`;

interface NamedPlan {
  name: string;
  plan: Plan;
}

/**
 * The executor's parity plans (runtime/executor/executor.test.ts) on 2 ranks, at global batch `B`:
 * pure dp, pure tp, fsdp, pp=2 GPipe and 1F1B, and one stage that mixes every strategy kind.
 */
function plansFor(model: ModelSpec, B: number): NamedPlan[] {
  const last = model.layers.length - 1;
  const cut = Math.floor(last / 2); // stage 0: layers 0..cut, stage 1: cut+1..last
  const pp = (schedule: 'gpipe' | '1f1b') =>
    handPlan(model, [
      { layers: [0, cut], devices: 1, runs: [{ layers: [0, cut], dp: 1, tp: 1 }] },
      { layers: [cut + 1, last], devices: 1, runs: [{ layers: [cut + 1, last], dp: 1, tp: 1 }] },
    ], { globalBatch: B, microBatches: 4, schedule });
  // Cycle tp / dp+recompute / fsdp / tp+recompute / fsdp+recompute / tp over the layers.
  const kinds = [
    { dp: 1, tp: 2 },
    { dp: 2, tp: 1, recompute: true },
    { dp: 2, tp: 1, fsdp: true },
    { dp: 1, tp: 2, recompute: true },
    { dp: 2, tp: 1, fsdp: true, recompute: true },
  ];
  const runs = model.layers.map((_, u) => ({ layers: [u, u] as [number, number], ...(u === last ? { dp: 1, tp: 2 } : kinds[u % kinds.length]!) }));
  const mixed = handPlan(model, [{ layers: [0, last], devices: RANKS, runs }], { globalBatch: B, microBatches: 2 });
  return [
    { name: 'dp2', plan: uniformPlan(model, RANKS, { dp: 2, tp: 1 }, { globalBatch: B, microBatches: 2 }) },
    { name: 'tp2', plan: uniformPlan(model, RANKS, { dp: 1, tp: 2 }, { globalBatch: B, microBatches: 2 }) },
    { name: 'fsdp dp2', plan: uniformPlan(model, RANKS, { dp: 2, tp: 1, fsdp: true }, { globalBatch: B, microBatches: 2 }) },
    { name: 'pp2 GPipe c=4', plan: pp('gpipe') },
    { name: 'pp2 1F1B c=4', plan: pp('1f1b') },
    { name: 'mixed (1 stage)', plan: mixed },
  ];
}

/** Per-device micro-batch sizes and TP degrees the plans look up in the profile. */
function profileNeeds(plans: NamedPlan[]): { microBatches: number[]; tpDegrees: number[] } {
  const m = new Set<number>();
  const tp = new Set<number>([1]);
  for (const { plan } of plans) {
    for (const s of plan.stages) {
      for (const r of s.strategies) {
        m.add(plan.microBatchSize / r.dp);
        tp.add(r.tp);
      }
    }
  }
  return { microBatches: [...m].sort((a, b) => a - b), tpDegrees: [...tp].sort((a, b) => a - b) };
}


interface Accuracy {
  spearman: number;
  /** max / min of measured/predicted over the plans: 1 = right up to one constant factor. */
  ratioSpread: number;
  /** exp(mean |ln(measured / predicted)|): 1 = exact; 1.5 = off by 1.5x on (geometric) average. */
  meanAbsErrorFactor: number;
}

function accuracy(predicted: number[], measured: number[]): Accuracy {
  const ratios = measured.map((m, i) => m / predicted[i]!);
  return {
    spearman: spearman(predicted, measured),
    ratioSpread: Math.max(...ratios) / Math.min(...ratios),
    meanAbsErrorFactor: Math.exp(ratios.reduce((s, r) => s + Math.abs(Math.log(r)), 0) / ratios.length),
  };
}

interface Measured {
  stepTimesMs: number[];
  commMs: number;
  p2pWaitMs: number;
  rankTimeMs: number;
  loadAverages: number[];
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadStart = os.loadavg();
  const model = loadModel(modelName);
  const cluster = loadCluster(CLUSTER);
  const plans = plansFor(model, batch);
  // The plans go through the same validation a plan file gets.
  for (const p of plans) {
    p.plan = parsePlan(JSON.parse(JSON.stringify(p.plan)), p.name);
    checkPlan(p.plan, model, cluster, p.name);
  }

  // (1) Profile this machine for exactly the micro-batch sizes and TP degrees the plans use.
  const needs = profileNeeds(plans);
  const log = (s: string) => {
    if (!json) process.stderr.write(s);
  };
  const cacheDir = freshProfile ? mkdtempSync(join(tmpdir(), 'uniap-bench-profile-')) : join(cacheRoot, quick ? 'quick' : 'full');
  mkdirSync(cacheDir, { recursive: true });
  log(`profiling ${modelName} on ${CLUSTER} (micro-batches ${needs.microBatches.join(',')}, tp ${needs.tpDegrees.join(',')}; cache ${cacheDir})\n`);
  const loadBeforeProfile = os.loadavg()[0]!;
  const measuredProfile = await measureProfile({
    model, cluster, ...needs, cacheDir, quick,
    // 16 MiB covers the largest collective these plans issue (tiny-gpt: ~1 MiB of fp32 parameters per
    // layer) with room; the default 256 MiB would cost minutes of Gloo all-reduces.
    maxMessageBytes: quick ? 4 * 2 ** 20 : 16 * 2 ** 20,
    progress: { write: log, isTTY: false, columns: 100 },
  });
  const profile: Profile = measuredProfile.profile!;
  // The load average while the profile was measured, kept beside the cache for later runs.
  const loadFile = join(measuredProfile.stats.cacheDir, 'bench-runtime-vs-model-load.json');
  let profileLoad: { before: number; after: number; date: string; measured: number } | undefined;
  if (measuredProfile.stats.measured > 0) {
    profileLoad = { before: loadBeforeProfile, after: os.loadavg()[0]!, date: new Date().toISOString(), measured: measuredProfile.stats.measured };
    writeFileSync(loadFile, JSON.stringify(profileLoad));
  } else if (existsSync(loadFile)) {
    profileLoad = JSON.parse(readFileSync(loadFile, 'utf8')) as typeof profileLoad;
  }
  if (freshProfile) rmSync(cacheDir, { recursive: true, force: true });
  const threads = profile.provenance.versions?.threadsPerProcess ?? '1';

  // (2) Predict with the measured profile and with the datasheet (spec) profile.
  const onMeasured: CostModelInput = prepareCostModel(model, cluster, { globalBatch: batch, profile });
  const onDatasheet: CostModelInput = prepareCostModel(model, cluster, { globalBatch: batch });
  const predicted = new Map<string, { measured: EstimateReport; datasheet: EstimateReport }>();
  for (const p of plans) predicted.set(p.name, { measured: estimatePlan(onMeasured, p.plan), datasheet: estimatePlan(onDatasheet, p.plan) });

  // (3) Run every plan, round by round, with the executor's threads matching the profile's.
  const dir = mkdtempSync(join(tmpdir(), 'uniap-bench-rvm-'));
  const modelPath = join(dir, 'model.json');
  writeFileSync(modelPath, JSON.stringify(withFacts(model))); // plans below are built or searched by uniap, so valid
  const runs = new Map<string, Measured>(plans.map((p) => [p.name, { stepTimesMs: [], commMs: 0, p2pWaitMs: 0, rankTimeMs: 0, loadAverages: [] }]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so that no plan always runs first (cold caches) or last.
      const order = plans.map((_, i) => plans[(i + round) % plans.length]!);
      for (const p of order) {
        const planPath = join(dir, `plan-${plans.indexOf(p)}.json`);
        writeFileSync(planPath, JSON.stringify(p.plan));
        const m = runs.get(p.name)!;
        m.loadAverages.push(os.loadavg()[0]!);
        const results = await runLocal({ planPath, modelPath, steps, worldSize: RANKS, env: { UNIAP_NUM_THREADS: threads }, timeoutMs: 600_000 });
        const failures = describeFailures(results);
        if (failures) throw new Error(`${p.name}: ${failures}`);
        const perStep = new Map<number, StepEvent[]>();
        for (const r of results) {
          for (const e of r.events) {
            if (e.event !== 'step' || e.step <= warmup) continue;
            (perStep.get(e.step) ?? perStep.set(e.step, []).get(e.step)!).push(e);
            m.commMs += e.exposedCommMs;
            m.p2pWaitMs += e.p2pWaitMs ?? 0;
            m.rankTimeMs += e.timeMs;
          }
        }
        const stepTimes = [...perStep.values()].map((es) => Math.max(...es.map((e) => e.timeMs)));
        m.stepTimesMs.push(...stepTimes);
        log(`round ${round + 1}/${rounds}: ${p.name}: median ${median(stepTimes).toFixed(1)} ms/step (predicted ${predicted.get(p.name)!.measured.timePerIterationMs.toFixed(1)}), load ${m.loadAverages.at(-1)!.toFixed(2)}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rows = plans.map((p) => {
    const m = runs.get(p.name)!;
    const e = predicted.get(p.name)!;
    const measuredMs = median(m.stepTimesMs);
    const tpi = e.measured.timePerIterationMs;
    return {
      plan: p.name,
      predictedMs: tpi,
      datasheetMs: e.datasheet.timePerIterationMs,
      measuredMs,
      ratio: measuredMs / tpi,
      datasheetRatio: measuredMs / e.datasheet.timePerIterationMs,
      // Shares of the ranks' step time: blocked on collectives, and waiting on pipeline P2P (bubble included).
      commShareMeasured: m.commMs / m.rankTimeMs,
      p2pWaitShareMeasured: m.p2pWaitMs / m.rankTimeMs,
      // The cost model's exposed communication and bubble of the iteration. With the measured profile
      // TP all-reduces are inside the layer times (tpCommunication: included), so they count as compute.
      commSharePredicted: e.measured.breakdown.exposedCommMs / tpi,
      bubbleSharePredicted: e.measured.breakdown.bubbleMs / tpi,
      steps: m.stepTimesMs.length,
      meanLoad: m.loadAverages.reduce((a, b) => a + b, 0) / m.loadAverages.length,
    };
  });
  const measuredTimes = rows.map((r) => r.measuredMs);
  const fromProfile = accuracy(rows.map((r) => r.predictedMs), measuredTimes);
  const fromDatasheet = accuracy(rows.map((r) => r.datasheetMs), measuredTimes);
  const loadEnd = os.loadavg();
  const summary = {
    model: modelName, cluster: CLUSTER, ranks: RANKS, globalBatch: batch, steps, warmup, rounds, quick, threadsPerRank: Number(threads),
    cpus: os.cpus().length,
    loadAverage: { start: loadStart, end: loadEnd, meanDuringRuns: rows.reduce((a, r) => a + r.meanLoad, 0) / rows.length, profile: profileLoad ?? null },
    profile: { ...measuredProfile.stats, overlapSlowdown: profile.overlapSlowdown, links: profile.links },
    rows,
    measuredProfile: fromProfile,
    datasheetProfile: fromDatasheet,
    wallMs: Date.now() - t0,
  };
  if (json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `\n${modelName} on ${CLUSTER} (Gloo, ${threads} thread per rank, ${os.cpus().length} CPUs), global batch ${batch}, ` +
      `${steps} steps (${warmup} warm-up) x ${rounds} round(s); profile: ${measuredProfile.stats.measured} measured, ${measuredProfile.stats.fromCache} from cache`,
  );
  const head = ['plan', 'pred ms', 'datasheet ms', 'measured ms', 'meas/pred', 'meas/datasheet', 'comm meas', 'comm pred', 'p2p wait meas', 'bubble pred'];
  const body = rows.map((r) => [
    r.plan, r.predictedMs.toFixed(1), r.datasheetMs.toFixed(1), r.measuredMs.toFixed(1), `${r.ratio.toFixed(2)}x`, `${r.datasheetRatio.toFixed(2)}x`,
    pct(r.commShareMeasured), pct(r.commSharePredicted), pct(r.p2pWaitShareMeasured), pct(r.bubbleSharePredicted),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const b of body) console.log(line(b));
  console.log(
    '(comm: share of the ranks\' step time blocked on collectives; the measured profile counts TP all-reduces inside the layer times, so "comm pred" leaves them out. ' +
      'p2p wait: pipeline receives and sends, bubble included. The optimizer step is timed at the datasheet memory bandwidth.)',
  );
  const acc = (name: string, a: Accuracy) =>
    `${name.padEnd(18)} Spearman ${a.spearman.toFixed(2).padStart(5)}  ratio spread ${a.ratioSpread.toFixed(2)}x  mean |error| ${a.meanAbsErrorFactor.toFixed(2)}x`;
  console.log(acc('measured profile:', fromProfile));
  console.log(acc('datasheet profile:', fromDatasheet));
  // How many times larger the datasheet's error is, in log terms (1.5x vs 1.2x error: ln 1.5 / ln 1.2).
  const logRatio = (a: number, b: number) => (Math.log(b) < 1e-9 ? 'inf' : `${(Math.log(a) / Math.log(b)).toFixed(2)}x`);
  console.log(
    `datasheet / measured profile (> 1: the measured profile predicts better): mean |error| ${logRatio(fromDatasheet.meanAbsErrorFactor, fromProfile.meanAbsErrorFactor)}, ` +
      `ratio spread ${logRatio(fromDatasheet.ratioSpread, fromProfile.ratioSpread)} (both in log terms); Spearman ${fromProfile.spearman.toFixed(2)} vs ${fromDatasheet.spearman.toFixed(2)}`,
  );
  const atProfile = profileLoad
    ? `; while profiling (${profileLoad.date}${measuredProfile.stats.measured === 0 ? ', cached' : ''}) ${profileLoad.before.toFixed(2)} -> ${profileLoad.after.toFixed(2)}`
    : '';
  console.log(
    `load average (1 min) on ${os.cpus().length} CPUs: ${loadStart[0]!.toFixed(2)} at start, ${summary.loadAverage.meanDuringRuns.toFixed(2)} mean at run starts, ` +
      `${loadEnd[0]!.toFixed(2)} at end${atProfile}; ${(summary.wallMs / 1000).toFixed(0)} s in all`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
