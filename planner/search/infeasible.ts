// When no configuration has a plan: name the binding constraint and the smallest changes that make
// one fit (docs/planner.md step S4). Memory is the only constraint besides strategy
// validity, so the diagnosis is the least peak memory per device over every configuration
// (min-memory.ts), then what fits with more devices (same node type, node count x2, x4, ...), with
// recomputation / FSDP / cross-node TP if they were switched off.
import type { CostModelInput, CostModelOptions } from '../cost-model/input.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import { buildCostTables } from '../cost-model/build.ts';
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import { UniapError } from '../../common/errors.ts';
import { configurations, describeConfiguration, type Configuration, type ScheduleChoice } from './configurations.ts';
import { minPeakMemory, type MinMemory } from './min-memory.ts';

const GiB = 1024 ** 3;
const gib = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(2)} MiB`);

export interface LeastMemory extends MinMemory {
  config: Configuration;
  budgetBytes: number;
}

/** The configuration needing the least memory per device, over every configuration of the search space. */
export function leastMemory(input: CostModelInput, space: { schedule?: ScheduleChoice; stages?: number[]; microBatches?: number[] }): LeastMemory | null {
  let best: LeastMemory | null = null;
  for (const config of configurations(input, space)) {
    const t = buildCostTables(input, config);
    const m = minPeakMemory(t);
    if (!best || m.bytes < best.bytes) best = { ...m, config, budgetBytes: t.memoryBudgetBytes };
  }
  return best;
}

function scaledCluster(c: ClusterSpec, factor: number): ClusterSpec {
  const node = c.nodes[0]!;
  const nodes = Array.from({ length: c.nodes.length * factor }, (_, index) => ({ ...node, index }));
  // Memory does not depend on link speeds: any inter-node link will do for this check.
  const interNodeLink = c.interNodeLink ?? { kind: 'infiniband' as const, bandwidthGBps: 50, latencyUs: 5 };
  return { ...c, name: `${c.name} x${factor}`, nodes, interNodeLink };
}

function fitsWith(input: CostModelInput, cluster: ClusterSpec, options: Partial<CostModelOptions>, space: { schedule?: ScheduleChoice }): boolean {
  // The given profile first (it may lack the new TP degrees or cluster size), then the datasheet one.
  const profiles = cluster === input.cluster ? [input.profile, undefined] : [undefined];
  for (const profile of profiles) {
    try {
      const alt = prepareCostModel(input.model, cluster, { globalBatch: input.globalBatch, ...(profile ? { profile } : {}), options: { ...input.options, ...options } });
      const m = leastMemory(alt, space);
      return m !== null && m.bytes <= m.budgetBytes;
    } catch {
      // try the next profile
    }
  }
  return false;
}

/** The INFEASIBLE error for a search space in which nothing fits. */
export function infeasibleError(
  input: CostModelInput,
  space: { schedule?: ScheduleChoice; stages?: number[]; microBatches?: number[] },
  notes: readonly string[] = [],
): UniapError {
  const n = totalDevices(input.cluster);
  const where = `${input.model.name} with global batch ${input.globalBatch} on ${input.cluster.name} (${n} devices)`;
  const least = leastMemory(input, space);
  if (!least || !Number.isFinite(least.bytes)) {
    // Strategies can be missing because the profile does not cover their tp degree: say that first.
    const profileGaps = notes.length ? `; ${notes.join('; ')}` : '';
    return new UniapError(
      'INFEASIBLE',
      `no plan for ${where}: no configuration has a valid strategy for every layer (tensor-parallel degrees must divide the heads and FFN size and be in the profile, data-parallel degrees the micro-batch size); use a global batch divisible by the device count, or --allow-cross-node-tp${profileGaps}`,
      { binding: 'strategy', notes: [...notes] },
    );
  }
  const fixes: string[] = [`devices with at least ${gib(least.bytes)} usable (--memory-gb ${Math.ceil((least.bytes / GiB) * 100) / 100} if yours have it)`];
  const spaceNoSchedule = { schedule: '1f1b' as const };
  if (!input.options.allowRecompute && fitsWith(input, input.cluster, { allowRecompute: true }, spaceNoSchedule)) fixes.push('allowing activation recomputation');
  if (!input.options.allowFsdp && fitsWith(input, input.cluster, { allowFsdp: true }, spaceNoSchedule)) fixes.push('allowing fully sharded data parallelism');
  if (!input.options.allowCrossNodeTp && input.cluster.nodes.length > 1 && fitsWith(input, input.cluster, { allowCrossNodeTp: true }, spaceNoSchedule)) {
    fixes.push('tensor parallelism across nodes (--allow-cross-node-tp)');
  }
  for (const f of [2, 4, 8, 16, 32, 64]) {
    if (fitsWith(input, scaledCluster(input.cluster, f), {}, spaceNoSchedule)) {
      fixes.push(`${n * f} devices of this type (${input.cluster.nodes.length * f} nodes)`);
      break;
    }
  }
  const cfg = describeConfiguration(least.config, input.globalBatch, n);
  return new UniapError(
    'INFEASIBLE',
    `no plan fits ${where}: memory per device is the binding constraint — the least any configuration needs is ${gib(least.bytes)} ` +
      `(${cfg}; ${gib(least.stateBytes)} model states, ${gib(least.activationBytes)} activations and workspace) but ${gib(least.budgetBytes)} are usable; ` +
      `it fits with ${fixes.join(', or ')}`,
    { binding: 'memory', neededBytes: least.bytes, usableBytes: least.budgetBytes, config: least.config, fixes },
  );
}
