// The outer loop's search space (UniAP Algorithm 1; docs/planner.md step S1): pipeline degrees d
// dividing the device count (equal devices per stage, at most one stage per layer), micro-batch
// counts c dividing the global batch, and the schedules. User restrictions are validated here.
import type { Schedule } from '../plan.ts';
import type { CostModelInput } from '../cost-model/input.ts';
import { divisors } from '../cost-model/math.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import { UniapError } from '../../common/errors.ts';

export interface Configuration {
  stages: number;
  microBatches: number;
  schedule: Schedule;
}

export type ScheduleChoice = Schedule | 'both';

export function configurations(
  input: CostModelInput,
  opts: { schedule?: ScheduleChoice; stages?: number[]; microBatches?: number[] } = {},
): Configuration[] {
  const n = totalDevices(input.cluster);
  const L = input.model.layers.length;
  const B = input.globalBatch;
  let ds = divisors(n).filter((d) => d <= L);
  if (opts.stages?.length) {
    for (const d of opts.stages) {
      if (!Number.isInteger(d) || d < 1 || n % d !== 0 || d > L) {
        throw new UniapError(
          'DEGREE_MISMATCH',
          `${d} pipeline stages are not possible for ${n} devices and ${L} layers; use a divisor of ${n} that is at most ${L} (${ds.join(', ')})`,
        );
      }
    }
    ds = ds.filter((d) => opts.stages!.includes(d));
  }
  let cs = divisors(B);
  if (opts.microBatches?.length) {
    for (const c of opts.microBatches) {
      if (!Number.isInteger(c) || c < 1 || B % c !== 0) {
        throw new UniapError('DEGREE_MISMATCH', `${c} micro-batches do not divide the global batch ${B}; use one of ${cs.join(', ')}`);
      }
    }
    cs = cs.filter((c) => opts.microBatches!.includes(c));
  }
  const schedules: Schedule[] = !opts.schedule || opts.schedule === 'both' ? ['1f1b', 'gpipe'] : [opts.schedule];
  const out: Configuration[] = [];
  for (const d of ds) for (const c of cs) for (const schedule of schedules) out.push({ stages: d, microBatches: c, schedule });
  return out;
}

export function describeConfiguration(c: Configuration, globalBatch: number, devices: number): string {
  const g = devices / c.stages;
  return `${c.stages} stage${c.stages > 1 ? 's' : ''} x ${g} device${g > 1 ? 's' : ''}, ${c.microBatches} micro-batch${c.microBatches > 1 ? 'es' : ''} of ${globalBatch / c.microBatches}, ${c.schedule}`;
}
