// Reading and checking Plan JSON (hand-written or exported). `parsePlan` validates the structure;
// `checkPlan` validates it against the model and cluster it claims to run on, naming every factor
// of a degree mismatch.
import { readFileSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Plan, PlanStage, StrategyRun, PlanPredictions, PlanSearch } from './plan.ts';
import { PLAN_SCHEMA_VERSION } from './plan.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import type { ClusterSpec } from '../configs/cluster-spec.ts';
import { totalDevices } from '../configs/cluster-spec.ts';
import { JsonReader } from '../configs/validate.ts';
import { parseJsonText } from '../common/json-file.ts';
import { UniapError } from '../common/errors.ts';
import { contextParallelAllowed, layerSupportsContextParallel, layerSupportsSequenceParallel, layerTpSplit, sequenceParallelAllowed, tpDivides } from '../configs/model-tp.ts';
import { modelFingerprint } from '../configs/model-presets.ts';
import { clusterFingerprint } from '../configs/cluster-presets.ts';

export function loadPlan(path: string): Plan {
  if (!existsSync(path)) {
    throw new UniapError('FILE_NOT_FOUND', `plan file ${path} does not exist; pass the path of a plan JSON (uniap plan ... --out plan.json writes one)`);
  }
  return parsePlan(parseJsonText(readFileSync(path, 'utf8'), path), path);
}

export function savePlan(plan: Plan, path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(plan, null, 2) + '\n');
  } catch (e) {
    throw new UniapError('FILE_NOT_FOUND', `cannot write the plan to ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path for --out`);
  }
}

function pair(r: JsonReader): [number, number] {
  const a = r.asArray();
  if (a.length !== 2) r.fail(`expected [first, last], got ${a.length} entries`, 'write two integers');
  return [a[0]!.asNumber({ integer: true, min: 0 }), a[1]!.asNumber({ integer: true, min: 0 })];
}

export function parsePlan(json: unknown, file: string): Plan {
  const r = JsonReader.root(file, json);
  const version = r.number('schemaVersion', { integer: true });
  if (version !== PLAN_SCHEMA_VERSION) {
    r.fail(`plan schema version ${version} is not supported`, `this uniap reads version ${PLAN_SCHEMA_VERSION}; re-export the plan with this version`, '$.schemaVersion');
  }
  const m = r.child('model');
  const model = { name: m.string('name'), fingerprint: m.optString('fingerprint') ?? '', layers: m.number('layers', { integer: true, min: 1 }) };
  m.done();
  const c = r.child('cluster');
  const cluster = { name: c.string('name'), fingerprint: c.optString('fingerprint') ?? '', devices: c.number('devices', { integer: true, min: 1 }) };
  c.done();
  let profile: Plan['profile'];
  const pr = r.optChild('profile');
  if (pr) {
    profile = { kind: pr.string('kind'), device: pr.string('device'), tool: pr.string('tool'), fingerprint: pr.string('fingerprint') };
    pr.done();
  }
  const globalBatch = r.number('globalBatch', { integer: true, min: 1 });
  const microBatches = r.number('microBatches', { integer: true, min: 1 });
  const microBatchSize = r.number('microBatchSize', { integer: true, min: 1 });
  if (microBatches * microBatchSize !== globalBatch) {
    r.fail(
      `microBatches ${microBatches} x microBatchSize ${microBatchSize} = ${microBatches * microBatchSize} is not globalBatch ${globalBatch}`,
      'make microBatches * microBatchSize equal globalBatch',
      '$.microBatchSize',
    );
  }
  const schedule = r.string('schedule', { oneOf: ['gpipe', '1f1b'] }) as Plan['schedule'];
  const pipelineDegree = r.number('pipelineDegree', { integer: true, min: 1 });
  const stageReaders = r.array('stages', { minLength: 1 });
  if (stageReaders.length !== pipelineDegree) {
    r.fail(`pipelineDegree is ${pipelineDegree} but ${stageReaders.length} stages are listed`, 'make them agree', '$.pipelineDegree');
  }
  const stages: PlanStage[] = stageReaders.map((sr, i) => {
    const index = sr.number('index', { integer: true, min: 0 });
    if (index !== i) sr.fail(`stage index ${index} at position ${i}`, `number stages 0..${stageReaders.length - 1} in order`, `${sr.path}.index`);
    const layers = pair(sr.child('layers'));
    const ranks = pair(sr.child('ranks'));
    const strategies: StrategyRun[] = sr.array('strategies', { minLength: 1 }).map((rr) => {
      const run: StrategyRun = {
        layers: pair(rr.child('layers')),
        dp: rr.number('dp', { integer: true, min: 1 }),
        tp: rr.number('tp', { integer: true, min: 1 }),
        fsdp: rr.optBool('fsdp') ?? false,
        recompute: rr.optBool('recompute') ?? false,
      };
      if (rr.optBool('selectiveRecompute')) {
        if (run.recompute) rr.fail('"selectiveRecompute" together with "recompute": true', 'choose one granularity: recompute (full) or selectiveRecompute (the attention core)', `${rr.path}.selectiveRecompute`);
        run.selectiveRecompute = true;
      }
      const cp = rr.optNumber('cp', { integer: true, min: 1 });
      if (rr.optBool('sp')) {
        if (cp !== undefined && cp > 1) rr.fail(`"cp": ${cp} together with "sp": true`, 'choose one way to split the sequence: cp (context parallelism) or sp (sequence parallelism with tp)', `${rr.path}.cp`);
        if (run.tp < 2) rr.fail(`"sp": true with tp ${run.tp}`, 'sequence parallelism splits over the tp group: use tp > 1 or leave out sp', `${rr.path}.sp`);
        run.sp = true;
      }
      if (cp !== undefined && cp > 1) run.cp = cp;
      const cpComm = rr.optString('cpComm', { oneOf: ['a2a', 'p2p'] }) as 'a2a' | 'p2p' | undefined;
      if (cpComm !== undefined) {
        if ((run.cp ?? 1) === 1) rr.fail(`"cpComm": "${cpComm}" without context parallelism`, 'set "cp" > 1 or leave out cpComm', `${rr.path}.cpComm`);
        if (cpComm === 'p2p' && run.selectiveRecompute) rr.fail('"selectiveRecompute" with ring attention ("cpComm": "p2p")', 'use "cpComm": "a2a" (Ulysses), full recomputation, or none', `${rr.path}.selectiveRecompute`);
        if (cpComm === 'p2p') run.cpComm = 'p2p';
      }
      const zero = rr.optNumber('zero', { integer: true, min: 0 });
      if (zero !== undefined && zero !== 0) {
        if (zero === 3) rr.fail('zero 3 is written as "fsdp": true', 'write "fsdp": true for ZeRO-3 and leave out zero', `${rr.path}.zero`);
        if (zero !== 1 && zero !== 2) rr.fail(`zero ${zero} is not a ZeRO stage`, 'use zero 1 (optimizer states sharded) or 2 (and gradients), "fsdp": true for 3', `${rr.path}.zero`);
        if (run.fsdp) rr.fail(`zero ${zero} together with "fsdp": true`, 'choose one: fsdp (ZeRO-3) or zero 1/2', `${rr.path}.zero`);
        run.zero = zero as 1 | 2;
      }
      rr.done();
      return run;
    });
    sr.done();
    return { index, layers, ranks, strategies };
  });
  let predictions: PlanPredictions | undefined;
  const pp = r.optChild('predictions');
  if (pp) {
    predictions = {
      timePerIterationMs: pp.number('timePerIterationMs', { min: 0 }),
      samplesPerSecond: pp.number('samplesPerSecond', { min: 0 }),
      tokensPerSecond: pp.number('tokensPerSecond', { min: 0 }),
      mfu: pp.number('mfu', { min: 0 }),
      memoryPerStageBytes: pp.array('memoryPerStageBytes').map((x) => x.asNumber({ min: 0 })),
      usableMemoryBytes: pp.number('usableMemoryBytes', { min: 0 }),
    };
    pp.done();
  }
  let search: PlanSearch | undefined;
  const ss = r.optChild('search');
  if (ss) {
    search = {
      method: ss.string('method'),
      status: ss.string('status', { oneOf: ['optimal', 'time-limit', 'feasible'] }) as PlanSearch['status'],
      boundMs: ss.number('boundMs'),
      gap: ss.number('gap'),
      searchTimeMs: ss.number('searchTimeMs', { min: 0 }),
      configurationsTried: ss.number('configurationsTried', { integer: true, min: 0 }),
      configurationsPruned: ss.number('configurationsPruned', { integer: true, min: 0 }),
    };
    const calls = ss.optNumber('solverCalls', { integer: true, min: 0 });
    if (calls !== undefined) search.solverCalls = calls;
    ss.done();
  }
  const createdBy = r.optString('createdBy');
  r.done();
  const plan: Plan = { schemaVersion: PLAN_SCHEMA_VERSION, model, cluster, globalBatch, microBatches, microBatchSize, schedule, pipelineDegree, stages };
  if (profile) plan.profile = profile;
  if (predictions) plan.predictions = predictions;
  if (search) plan.search = search;
  if (createdBy !== undefined) plan.createdBy = createdBy;
  checkPlanShape(plan, file);
  return plan;
}

/** Structural checks needing no model: contiguous stages and runs, consecutive equal rank blocks. */
function checkPlanShape(plan: Plan, file: string): void {
  const fail = (path: string, problem: string, fix: string): never => {
    throw new UniapError('CONFIG_INVALID', `${file}: at ${path}: ${problem}; ${fix}`);
  };
  let nextLayer = 0;
  const g = plan.stages[0]!.ranks[1];
  plan.stages.forEach((s, i) => {
    if (s.layers[0] !== nextLayer) fail(`$.stages[${i}].layers`, `stage ${i} starts at layer ${s.layers[0]}, expected ${nextLayer}`, 'stages must cover the layers contiguously in order');
    if (s.layers[1] < s.layers[0]) fail(`$.stages[${i}].layers`, `stage ${i} is empty (${s.layers[0]}..${s.layers[1]})`, 'give every stage at least one layer');
    nextLayer = s.layers[1] + 1;
    if (s.ranks[1] !== g) fail(`$.stages[${i}].ranks`, `stage ${i} has ${s.ranks[1]} devices but stage 0 has ${g}`, 'give every stage the same number of devices');
    if (s.ranks[0] !== i * g) fail(`$.stages[${i}].ranks`, `stage ${i} starts at rank ${s.ranks[0]}, expected ${i * g}`, 'stages take consecutive rank blocks [i*g, g]');
    let nextRun = s.layers[0];
    s.strategies.forEach((run, j) => {
      const path = `$.stages[${i}].strategies[${j}]`;
      if (run.layers[0] !== nextRun || run.layers[1] < run.layers[0]) fail(`${path}.layers`, `run covers ${run.layers[0]}..${run.layers[1]}, expected to start at ${nextRun}`, 'strategy runs must cover the stage layers contiguously');
      nextRun = run.layers[1] + 1;
      const cp = run.cp ?? 1;
      if (cp > 1 && run.dp * cp * run.tp !== g) fail(path, `dp ${run.dp} x cp ${cp} x tp ${run.tp} = ${run.dp * cp * run.tp} but the stage has ${g} devices`, `choose dp, cp and tp with dp * cp * tp = ${g}`);
      if (cp === 1 && run.dp * run.tp !== g) fail(path, `dp ${run.dp} x tp ${run.tp} = ${run.dp * run.tp} but the stage has ${g} devices`, `choose dp and tp with dp * tp = ${g}`);
    });
    if (nextRun !== s.layers[1] + 1) fail(`$.stages[${i}].strategies`, `runs end at layer ${nextRun - 1} but the stage ends at ${s.layers[1]}`, 'cover every layer of the stage');
  });
  if (plan.stages.length * g !== plan.cluster.devices) {
    fail('$.stages', `${plan.stages.length} stages x ${g} devices = ${plan.stages.length * g}, but cluster.devices is ${plan.cluster.devices}`, 'use pipelineDegree x devices per stage = cluster devices');
  }
  if (nextLayer !== plan.model.layers) fail('$.stages', `stages cover ${nextLayer} layers but model.layers is ${plan.model.layers}`, 'cover every layer of the model');
}

/**
 * The plan was made for this model: same layer count, and same fingerprint when the plan records one
 * (a hand-written plan may leave it out). `launch` and `estimate` both check this.
 */
export function checkPlanModel(plan: Plan, model: ModelSpec, file = 'plan', modelArg = model.name): void {
  if (plan.model.layers !== model.layers.length) {
    throw new UniapError(
      'DEGREE_MISMATCH',
      `${file} is a plan for ${plan.model.name} (${plan.model.layers} layers) but --model ${modelArg} has ${model.layers.length} layers; pass --model ${plan.model.name} or plan this model (uniap plan --model ${modelArg})`,
    );
  }
  const fp = modelFingerprint(model);
  if (plan.model.fingerprint && plan.model.fingerprint !== fp) {
    throw new UniapError(
      'CONFIG_INVALID',
      `${file} was made for model ${plan.model.name} with fingerprint ${plan.model.fingerprint}, but --model ${modelArg} has fingerprint ${fp}; plan this model again, or remove "fingerprint" from the plan to use it anyway`,
    );
  }
}

/**
 * The one validation of a plan against its model, before any estimate or executor: model identity,
 * the micro-batch split over each dp degree, and each layer's tp degree (configs/model-tp.ts
 * tpDivides). The executor receives only plans that passed this (and parsePlan's structure).
 */
export function checkPlanForModel(plan: Plan, model: ModelSpec, file = 'plan', modelArg = model.name): void {
  checkPlanModel(plan, model, file, modelArg);
  for (const s of plan.stages) {
    for (const run of s.strategies) {
      if (plan.microBatchSize % run.dp !== 0) {
        throw new UniapError('DEGREE_MISMATCH', `${file}: stage ${s.index} layers ${run.layers[0]}-${run.layers[1]}: dp ${run.dp} does not divide the micro-batch size ${plan.microBatchSize}; use a dp that divides it or fewer micro-batches`);
      }
      for (let u = run.layers[0]; u <= run.layers[1]; u++) {
        const layer = model.layers[u]!;
        if (!tpDivides(layer, run.tp)) {
          const what = layerTpSplit(layer) === 'vocabulary' ? `vocabulary ${layer.vocabSize}` : `${layer.heads} heads, ${layer.kvHeads} KV heads, FFN ${layer.ffnSize}`;
          throw new UniapError('DEGREE_MISMATCH', `${file}: layer ${u} (${layer.name}: ${what}) cannot be split tp=${run.tp}; use a tp that divides all of them for that layer (${allowedTps(layer).join(', ')})`);
        }
        if (run.sp && !sequenceParallelAllowed(layer, run.tp)) {
          const why = layerSupportsSequenceParallel(layer)
            ? `its sequence of ${layer.seqLength} tokens does not divide by tp ${run.tp}`
            : `${/^[aeiou]/.test(layer.type) ? 'an' : 'a'} ${layer.type} layer has no sequence-parallel form (only encoder, decoder and cross-decoder blocks do)`;
          throw new UniapError('DEGREE_MISMATCH', `${file}: stage ${s.index} layer ${u} (${layer.name}): "sp": true, but ${why}; leave out sp for that layer`);
        }
        const cp = run.cp ?? 1;
        if (cp > 1 && !contextParallelAllowed(layer, run.tp, cp, run.cpComm ?? 'a2a')) {
          const why = !layerSupportsContextParallel(layer)
            ? `${/^[aeiou]/.test(layer.type) ? 'an' : 'a'} ${layer.type} layer has no context-parallel form (only encoder and decoder blocks do)`
            : run.cpComm === 'p2p' || layer.seqLength % cp !== 0
              ? `its ${layer.seqLength} tokens do not divide by cp ${cp}`
              : `its ${layer.heads / run.tp} heads and ${(layer.kvHeads || layer.heads) / run.tp} KV heads per tp rank must divide by cp ${cp} for Ulysses (or use "cpComm": "p2p", ring attention)`;
          throw new UniapError('DEGREE_MISMATCH', `${file}: stage ${s.index} layer ${u} (${layer.name}): "cp": ${cp}, but ${why}; use a cp that divides them, or leave out cp for that layer`);
        }
      }
    }
  }
}

/** Checks against the actual model and cluster: checkPlanForModel, then device count and cluster identity. */
export function checkPlan(plan: Plan, model: ModelSpec, cluster: ClusterSpec, file = 'plan'): void {
  const n = totalDevices(cluster);
  checkPlanForModel(plan, model, file);
  if (plan.cluster.devices !== n) {
    throw new UniapError('DEGREE_MISMATCH', `${file}: the plan uses ${plan.cluster.devices} devices (${plan.cluster.name}) but ${cluster.name} has ${n}; plan again for this cluster or pass --cluster ${plan.cluster.name}`);
  }
  const cfp = clusterFingerprint(cluster);
  if (plan.cluster.fingerprint && plan.cluster.fingerprint !== cfp) {
    throw new UniapError(
      'CONFIG_INVALID',
      `${file} was made for cluster ${plan.cluster.name} with fingerprint ${plan.cluster.fingerprint}, but ${cluster.name} has fingerprint ${cfp} (other devices or links); pass --cluster ${plan.cluster.name}, plan again, or remove "fingerprint" from the plan to use it anyway`,
    );
  }
}

/** The tp degrees up to 64 that split this layer, for error messages. */
function allowedTps(layer: ModelSpec['layers'][number]): number[] {
  return Array.from({ length: 64 }, (_, i) => i + 1).filter((t) => tpDivides(layer, t));
}
