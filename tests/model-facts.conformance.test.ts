// One fact, one definition, across languages: for every model preset and every Hugging Face fixture,
// the layers Python builds (python/uniap_torch/layers.py, read through the model facts of
// configs/model-facts.ts) hold exactly the parameters per tensor-parallel rank that the TypeScript
// facts say, at every tp degree the layer allows up to 8, and the executor counts the tokens per
// sample the cost model counts. Failing before the facts existed: Swin's tokens (3136 vs 49) and the
// patch embedding (split over tp by the cost model, replicated by the executor).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { choosePython, pythonPathWith } from '../common/python.ts';
import { importHuggingFaceConfig } from '../configs/hf-import.ts';
import { layerShapeKey, tokensPerSample } from '../configs/model-derive.ts';
import { withFacts, type ModelSpecWithFacts } from '../configs/model-facts.ts';
import { loadModel, modelPresetNames } from '../configs/model-presets.ts';
import { resolveModel } from '../configs/model-resolve.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import { layerParametersPerTpRank, tpDivides } from '../configs/model-tp.ts';

const root = resolve(import.meta.dirname, '..');
const TPS = [1, 2, 4, 8];

function models(): { name: string; model: ModelSpec }[] {
  const out = modelPresetNames().map((name) => ({ name, model: loadModel(name) }));
  const dir = join(root, 'configs/fixtures/hf');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const file = join(dir, f);
    out.push({ name: `hf:${f}`, model: resolveModel(importHuggingFaceConfig(JSON.parse(readFileSync(file, 'utf8')), file), file) });
  }
  return out;
}

interface Probe {
  tokensPerSample: number;
  tiedLayers: number[];
  layers: Record<string, Record<string, number[]>>;
}

function probe(entries: { name: string; model: ModelSpecWithFacts; layers: number[]; tps: Record<string, number[]> }[]): Record<string, Probe> {
  const res = spawnSync(choosePython(), [join(root, 'tests/helpers/layer_facts_probe.py')], {
    input: JSON.stringify({ models: entries }),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, PYTHONPATH: pythonPathWith([join(root, 'runtime/executor')]), OMP_NUM_THREADS: '1' },
    timeout: 300_000,
  });
  if (res.status !== 0) throw new Error(`layer_facts_probe.py failed (${res.status}): ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, Probe>;
}

describe('model facts: TypeScript and Python agree', () => {
  const all = models();
  const entries = all.map(({ name, model }) => {
    const seen = new Set<string>();
    const layers: number[] = [];
    const tps: Record<string, number[]> = {};
    for (const l of model.layers) {
      const k = `${layerShapeKey(l)}|${l.tiedEmbedding}`;
      if (seen.has(k)) continue;
      seen.add(k);
      layers.push(l.index);
      tps[String(l.index)] = TPS.filter((t) => tpDivides(l, t));
    }
    return { name, model: withFacts(model), layers, tps };
  });
  const got = probe(entries);

  it('covers every preset and every HF fixture, with tp > 1 exercised', () => {
    expect(Object.keys(got).sort()).toEqual(all.map((m) => m.name).sort());
    expect(entries.every((e) => Object.values(e.tps).some((t) => t.length > 1))).toBe(true);
  });

  for (const e of entries) {
    it(`${e.name}: parameters per tp rank, tokens per sample, tied layers`, () => {
      const p = got[e.name]!;
      const bad: string[] = [];
      for (const u of e.layers) {
        const l = e.model.layers[u]!;
        for (const tp of e.tps[String(u)]!) {
          const want = layerParametersPerTpRank(l, tp);
          const have = p.layers[String(u)]![String(tp)]!;
          if (have.some((n) => n !== want)) bad.push(`${l.name} (${l.type}) tp=${tp}: Python ${have.join('/')} vs TypeScript ${want}`);
        }
      }
      expect(bad).toEqual([]);
      expect(p.tokensPerSample).toBe(tokensPerSample(e.model));
      expect(p.tiedLayers).toEqual(e.model.facts.tiedLayers);
    });
  }
});

