// An imported Galvatron profile plans without --cluster: the cluster comes from the profile, every
// layer and link the cost model asks for is in it, and the exact solver finds a placement.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCostTables } from '../planner/cost-model/build.ts';
import { prepareCostModel } from '../planner/cost-model/input.ts';
import { exactSolver } from '../planner/solvers/exact/exact.ts';
import { importGalvatron } from '../profiler/galvatron/import.ts';
import { clusterFromProfile } from '../profiler/profile-cluster.ts';
import { parseProfile } from '../profiler/profile-io.ts';

const F = fileURLToPath(new URL('../profiler/galvatron/fixtures/', import.meta.url));

describe('planning on an imported Galvatron profile', () => {
  it('Llama 7B on 2 x 8 A100: cost tables for several (stages, micro-batches) and a solved placement', async () => {
    const r = importGalvatron(F, { tag: 'llama/' });
    const profile = parseProfile(JSON.parse(JSON.stringify(r.profile)), 'p.json');
    const cluster = clusterFromProfile(profile);
    expect(cluster.nodes.length * cluster.nodes[0]!.devices).toBe(16);
    const input = prepareCostModel(r.model, cluster, { globalBatch: 64, profile });
    for (const [stages, microBatches] of [[1, 1], [2, 8], [4, 16]] as const) {
      const tables = buildCostTables(input, { stages, microBatches, schedule: '1f1b' });
      expect(tables.layers).toBe(r.model.layers.length);
      expect(tables.allowed.every((row) => row.some(Boolean))).toBe(true);
    }
    const result = await exactSolver.solve(buildCostTables(input, { stages: 2, microBatches: 8, schedule: '1f1b' }));
    expect(result.status).toBe('optimal');
    expect(result.objectiveMs).toBeGreaterThan(0);
  });
});

describe('planning on a profile that lacks some tensor-parallel degrees', () => {
  it('searches only the degrees it covers, says which it left out, and never picks one', async () => {
    const { searchPlan } = await import('../planner/search/search.ts');
    const r = importGalvatron(F, { tag: 'llama/' });
    const full = parseProfile(JSON.parse(JSON.stringify(r.profile)), 'p.json');
    const decoder = r.model.layers.find((l) => l.type === 'decoder')!;
    const { layerShapeKey } = await import('../configs/model-derive.ts');
    const key = layerShapeKey(decoder);
    const tps = [...new Set(full.layers.filter((e) => e.shapeKey === key).map((e) => e.tp))].sort((a, b) => a - b);
    expect(tps.length).toBeGreaterThan(2);
    const dropped = tps[1]!; // e.g. tp 2: keep tp 1 so a plan exists
    const partial = { ...full, layers: full.layers.filter((e) => !(e.shapeKey === key && e.tp === dropped)) };
    const input = prepareCostModel(r.model, clusterFromProfile(partial), { globalBatch: 64, profile: partial });
    const result = await searchPlan(input, { stages: [1, 2] });
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toMatch(new RegExp(`no entry for decoder\\.0 \\.\\. decoder\\.\\d+ \\(\\d+ layers\\) at tp ${dropped}\\b`));
    expect(result.notes[0]).toMatch(/profile those degrees/);
    const used = result.plan.stages.flatMap((s) => s.strategies.filter((run) => r.model.layers[run.layers[0]]!.type === 'decoder').map((run) => run.tp));
    expect(used).not.toContain(dropped);
    // The full profile has nothing to say.
    const again = await searchPlan(prepareCostModel(r.model, clusterFromProfile(full), { globalBatch: 64, profile: full }), { stages: [1, 2] });
    expect(again.notes).toEqual([]);
  }, 60_000);
});
