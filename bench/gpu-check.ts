// The GPU check (bench/gpu-check.sh runs it): on one device, profile a Llama-2-7B-shaped model cut
// to a few decoder layers (hidden 4096, 32 heads, SwiGLU 11008, seq 4096: the 7B layer, so that
// layer times and memory are the real ones), plan on the measured profile, calibrate it on short
// plans, run the planner's plan through launch, and print predicted vs measured time per iteration
// and peak memory for the datasheet (spec), measured and calibrated profiles.
// The same code runs on a CPU (--cluster local-cpu:1 --model tiny-gpt) to check the path without a GPU.
//
//   npx tsx bench/gpu-check.ts [--cluster FILE|local-cpu:1] [--model M] [--layers 4] [--batch 8]
//       [--steps 10] [--warmup 3] [--json]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadCluster } from '../configs/cluster-presets.ts';
import { resolveCluster } from '../configs/cluster-resolve.ts';
import type { ClusterSpec } from '../configs/cluster-spec.ts';
import { loadModel } from '../configs/model-presets.ts';
import { prepareCostModel } from '../planner/cost-model/input.ts';
import { predictPlan } from '../planner/calibration/fit.ts';
import { searchPlan } from '../planner/search/search.ts';
import { measureProfile } from '../profiler/measure/run.ts';
import type { Profile } from '../profiler/profile.ts';
import { deriveSpecProfile } from '../profiler/spec-profile.ts';
import { calibrate } from '../runtime/calibrate/calibrate.ts';
import { measurePlans } from '../runtime/calibrate/measure-plans.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const json = process.argv.includes('--json');
const layers = Number(arg('layers', '4'));
const batch = Number(arg('batch', '8'));
const steps = Number(arg('steps', '10'));
const warmup = Number(arg('warmup', '3'));
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`);
};

/** The first GPU as a uniap device type (configs/devices.json), from nvidia-smi; null without one. */
function detectGpuType(): string | null {
  let name: string;
  try {
    name = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return null;
  }
  if (/H200/i.test(name)) return 'H200-SXM';
  if (/H100/i.test(name)) return 'H100-SXM';
  if (/A100/i.test(name)) return /80\s*GB/i.test(name) ? 'A100-80GB-SXM' : 'A100-40GB-SXM';
  log(`GPU "${name}" has no device type of its own here; using H100-SXM's datasheet for the spec profile`);
  return 'H100-SXM';
}

function oneGpuCluster(): ClusterSpec {
  const given = arg('cluster', '');
  if (given) return loadCluster(given);
  const deviceType = detectGpuType();
  if (!deviceType) {
    console.error('gpu-check: no GPU found (nvidia-smi failed); on a machine without one run the same check on CPU: npx tsx bench/gpu-check.ts --cluster local-cpu:1 --model tiny-gpt');
    process.exit(2);
  }
  return resolveCluster(
    { schemaVersion: 1, name: `gpu-check-1x${deviceType}`, nodes: [{ count: 1, deviceType, devices: 1, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 450, latencyUs: 1.9 } }] },
    'gpu-check',
  );
}

/** A model file of the 7B shape with `layers` decoder layers (or the --model given). */
function modelFile(dir: string): string {
  const given = arg('model', '');
  if (given) return given;
  const preset = JSON.parse(readFileSync(resolve(import.meta.dirname, '../configs/models/llama-2-7b.json'), 'utf8')) as Record<string, unknown>;
  const cut = {
    ...preset,
    name: `llama-2-7b-${layers}l`,
    description: `Llama-2-7B's layer shape with ${layers} decoder layers (bench/gpu-check.ts)`,
    publishedParameters: undefined,
    blocks: [{ type: 'embedding', positionEmbedding: 'rope' }, { type: 'decoder', count: layers }, { type: 'head' }],
  };
  const path = join(dir, `${cut.name}.json`);
  writeFileSync(path, JSON.stringify(cut, null, 2));
  return path;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'uniap-gpu-check-'));
  try {
    const cluster = oneGpuCluster();
    const modelArg = modelFile(dir);
    const model = loadModel(modelArg);
    const microBatches = [...new Set([1, 2, batch])].filter((m) => batch % m === 0).sort((a, b) => a - b);
    log(`gpu-check: ${model.name} (${model.layers.length} layers) on ${cluster.name}, batch ${batch}`);

    const spec = deriveSpecProfile(model, cluster, { microBatches, tpDegrees: [1] });
    log('profiling (uniap profile) ...');
    const measuredRun = await measureProfile({ model, cluster, microBatches, tpDegrees: [1], cacheDir: join(dir, 'cache'), skipLinks: true });
    const measured: Profile = measuredRun.profile!;
    if (measuredRun.stats.outOfMemory.length) log(`out of memory while profiling: ${measuredRun.stats.outOfMemory.join(', ')}`);

    const search = await searchPlan(prepareCostModel(model, cluster, { globalBatch: batch, profile: measured }));
    const plan = search.plan;
    log(`planned on the measured profile: c=${plan.microBatches}, ${plan.stages[0]!.strategies.map((s) => `${s.recompute ? 'recompute' : 'no recompute'}`).join('/')}`);

    const common = { model: modelArg, seqLength: null, python: null, deviceKind: cluster.nodes[0]!.deviceType.kind, hosts: null, redisUrl: null, localWorkers: 1, verbose: false } as const;
    log('calibrating (uniap calibrate) ...');
    const cal = await calibrate({ ...common, modelSpec: model, cluster, base: measured, globalBatch: batch, plans: 3, heldOut: null, steps, warmup });
    log('running the plan (uniap launch) ...');
    const run = (await measurePlans({ ...common, plans: [{ name: 'planner choice', plan }], steps, warmup }))[0]!;

    const rows = (
      [
        ['spec (datasheet)', spec],
        ['measured', measured],
        ['calibrated', cal.profile],
      ] as const
    ).map(([name, p]) => {
      const e = predictPlan(model, cluster, p, plan);
      const memory = e.modelBytes + p.device.reservedBytes;
      return { profile: name, predictedMs: e.timeMs, measuredMs: run.measuredMs, timeRatio: run.measuredMs / e.timeMs, predictedMemoryBytes: memory, measuredMemoryBytes: run.measuredMemoryBytes, memoryRatio: run.measuredMemoryBytes / memory };
    });
    const out = { model: model.name, cluster: cluster.name, device: cluster.nodes[0]!.deviceType.name, batch, steps, warmup, calibration: cal.fit.heldOut, factors: cal.fit.factors, rows, wallMs: Date.now() - t0 };
    if (json) {
      console.log(JSON.stringify(out, null, 2));
      return;
    }
    const GiB = 1024 ** 3;
    console.log(`\n${model.name} on ${cluster.name} (${out.device}), batch ${batch}, ${steps - warmup} timed steps; the planner's plan measured ${run.measuredMs.toFixed(1)} ms per iteration, peak ${(run.measuredMemoryBytes / GiB).toFixed(2)} GiB`);
    console.log('profile            predicted ms  measured/predicted  predicted GiB  measured/predicted');
    for (const r of rows) {
      console.log(`${r.profile.padEnd(18)} ${r.predictedMs.toFixed(1).padStart(12)}  ${r.timeRatio.toFixed(2).padStart(17)}x  ${(r.predictedMemoryBytes / GiB).toFixed(2).padStart(13)}  ${r.memoryRatio.toFixed(2).padStart(17)}x`);
    }
    const h = cal.fit.heldOut;
    console.log(`calibration held-out plans: time MAPE ${(100 * h.before.timeMape).toFixed(1)}% -> ${(100 * h.after.timeMape).toFixed(1)}%, memory MAPE ${(100 * h.before.memoryMape).toFixed(1)}% -> ${(100 * h.after.memoryMape).toFixed(1)}%`);
    console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`gpu-check: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
