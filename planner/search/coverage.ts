// What a given profile lets the search consider. A measured or imported profile may tabulate only some
// tensor-parallel degrees of a layer shape (a Galvatron import, a partial measurement); the cost model
// then allows only those (planner/cost-model/build.ts) and the search says so in its result's notes,
// one line per layer shape, instead of aborting the plan.
import type { CostModelInput } from '../cost-model/input.ts';
import { tpDegreesFor } from '../cost-model/input.ts';
import { lookupFor } from '../cost-model/build.ts';
import { layerShapeKey } from '../../configs/model-derive.ts';
import { tpDivides } from '../../configs/model-tp.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import type { Configuration } from './configurations.ts';

export interface CoverageGap {
  shapeKey: string;
  /** Names of the model's layers with this shape (model order). */
  layers: string[];
  /** Degrees the search would consider for these layers but the profile lacks. */
  missingTp: number[];
  /** Degrees the profile has and the search considers. */
  coveredTp: number[];
}

/** Per layer shape: the tp degrees the search space asks for that the profile does not tabulate. */
export function profileCoverageGaps(input: CostModelInput, configs: readonly Configuration[]): CoverageGap[] {
  const lookup = lookupFor(input);
  const n = totalDevices(input.cluster);
  const stageSizes = [...new Set(configs.map((c) => n / c.stages))];
  const tps = [...new Set(stageSizes.flatMap((g) => tpDegreesFor(input.cluster, g, input.options)))].sort((a, b) => a - b);
  const byShape = new Map<string, CoverageGap>();
  for (const layer of input.model.layers) {
    const key = layerShapeKey(layer);
    const seen = byShape.get(key);
    if (seen) {
      seen.layers.push(layer.name);
      continue;
    }
    const wanted = tps.filter((t) => tpDivides(layer, t));
    // A shape the profile lacks altogether is an error the cost model raises (another model's profile).
    const have = lookup.hasShape(key) ? wanted.filter((t) => lookup.coversTp(key, t)) : wanted;
    byShape.set(key, { shapeKey: key, layers: [layer.name], missingTp: wanted.filter((t) => !have.includes(t)), coveredTp: have });
  }
  return [...byShape.values()].filter((g) => g.missingTp.length > 0);
}

function layerList(names: string[]): string {
  return names.length === 1 ? names[0]! : names.length === 2 ? `${names[0]} and ${names[1]}` : `${names[0]} .. ${names[names.length - 1]} (${names.length} layers)`;
}

/** One line per gap, for the search result's notes (the CLI prints them). */
export function coverageNotes(input: CostModelInput, gaps: readonly CoverageGap[]): string[] {
  const p = input.profile.provenance;
  return gaps.map((g) => {
    const tps = (xs: number[]) => xs.map((t) => `tp ${t}`).join(', ');
    const used = g.coveredTp.length ? `the search considered only ${tps(g.coveredTp)} for them` : 'no tensor-parallel degree the search may use is covered for them';
    return `the profile (${p.kind} on ${p.device}) has no entry for ${layerList(g.layers)} at ${tps(g.missingTp)}; ${used} — profile those degrees (uniap profile) to search them too`;
  });
}
