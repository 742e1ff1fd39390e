// Runs calibration plans through the real runtime — `launch` (runtime/control/launch-job.ts): a gRPC
// coordinator, worker agents and one PyTorch executor per device — one job per plan, and measures
// each: the median time per iteration over the steps after the warm-up (an iteration is as long as
// its slowest rank) and the peak memory of the fullest rank. One Redis serves every job.
//
// Ctrl-C: the running job is stopped cleanly (launch's own handler) and measurePlans throws an
// exit-130 UniapError; nothing measured so far is written anywhere (the caller writes only a
// finished calibration).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { UniapError } from '../../common/errors.ts';
import { median } from '../../planner/validation/metrics.ts';
import type { NamedPlan } from '../../planner/calibration/plans.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../control/coordinator.ts';
import { launch } from '../control/launch-job.ts';
import { formatFailure } from '../control/progress.ts';
import { findRedisServer, REDIS_MISSING_HINT, startRedisServer, type RedisServerHandle } from '../control/redis-server.ts';
import { DEFAULT_TRAINING_OPTIONS, type StepSummary } from '../control/types.ts';

export interface MeasuredPlan {
  name: string;
  /** Median over the timed steps of the slowest rank's step time, ms. */
  measuredMs: number;
  /** Every timed step's time, ms. */
  stepTimesMs: number[];
  /** Peak bytes of the fullest rank (max over steps). */
  measuredMemoryBytes: number;
  wallMs: number;
}

export interface MeasurePlansOptions {
  /** Model argument as `launch --model` takes it (preset, model JSON or HF config). */
  model: string;
  seqLength: number | null;
  plans: readonly NamedPlan[];
  /** Iterations per plan, warm-up included. */
  steps: number;
  /** Leading iterations left out of the timing (allocation, first collectives). */
  warmup: number;
  python: string | null;
  deviceKind: 'cpu' | 'gpu' | null;
  hosts: string[] | null;
  redisUrl: string | null;
  localWorkers: number;
  verbose: boolean;
  /** Called as steps come: plan index, its name, the steps done of `steps`. */
  onProgress?: (planIndex: number, name: string, step: number) => void;
  /** Polled before each plan: true after the user's Ctrl-C (the caller's signal handler sets it). */
  interrupted?: () => boolean;
  /** Where launch's own lines go with `verbose` (default: nowhere). */
  log?: NodeJS.WritableStream;
}

const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });


export async function measurePlans(o: MeasurePlansOptions): Promise<MeasuredPlan[]> {
  if (o.warmup >= o.steps) throw new UniapError('CONFIG_INVALID', `--warmup ${o.warmup} leaves no timed step of --steps ${o.steps}; make --steps larger than --warmup`);
  const dir = mkdtempSync(join(tmpdir(), 'uniap-calibrate-'));
  let redis: RedisServerHandle | null = null;
  try {
    let redisUrl = o.redisUrl;
    if (redisUrl === null) {
      if (!findRedisServer()) throw new UniapError('TOOL_MISSING', `calibrate runs its plans with launch, which needs Redis, and found no redis-server; ${REDIS_MISSING_HINT}`);
      redis = await startRedisServer();
      redisUrl = redis.url;
    }
    const out: MeasuredPlan[] = [];
    for (const [i, p] of o.plans.entries()) {
      if (o.interrupted?.()) throw new UniapError('RUNTIME_FAILED', `calibration interrupted before plan "${p.name}" (${i + 1} of ${o.plans.length}); nothing was written`, {}, 130);
      const planPath = join(dir, `plan-${i}.json`);
      writeFileSync(planPath, JSON.stringify(p.plan, null, 2));
      const steps: StepSummary[] = [];
      const t0 = Date.now();
      o.onProgress?.(i, p.name, 0);
      const log = o.verbose && o.log ? o.log : sink();
      const result = await launch({
        planPath,
        model: o.model,
        seqLength: o.seqLength,
        training: { ...DEFAULT_TRAINING_OPTIONS, steps: o.steps },
        hosts: o.hosts,
        slurmOut: null,
        gpusPerNode: 8,
        coordinator: null,
        redisUrl,
        python: o.python,
        localWorkers: o.localWorkers,
        deviceKind: o.deviceKind,
        port: 0,
        advertiseHost: null,
        heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
        heartbeatTimeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_MS,
        tls: null,
        token: null,
        verbose: o.verbose,
        json: false,
        out: log,
        err: log,
        onEvent: (e) => {
          if (e.body.kind !== 'step') return;
          steps.push(e.body.summary);
          o.onProgress?.(i, p.name, e.body.summary.step);
        },
      });
      const status = result.status;
      if (status?.state === 'stopped') throw new UniapError('RUNTIME_FAILED', `calibration interrupted during plan "${p.name}" (${i + 1} of ${o.plans.length}); nothing was written`, {}, 130);
      if (status?.state !== 'succeeded') {
        const why = status?.failure ? formatFailure(status.failure) : `job ended ${status?.state ?? 'without a status'}`;
        throw new UniapError('RUNTIME_FAILED', `calibration plan "${p.name}" (${i + 1} of ${o.plans.length}) failed: ${why}; run it alone with \`uniap launch --plan\` and --verbose to see its logs`);
      }
      const timed = steps.filter((s) => s.step > o.warmup);
      if (timed.length === 0) throw new UniapError('RUNTIME_FAILED', `calibration plan "${p.name}" reported no step after the warm-up`);
      const stepTimesMs = timed.map((s) => s.timePerIterationMs);
      out.push({
        name: p.name,
        measuredMs: median(stepTimesMs),
        stepTimesMs,
        measuredMemoryBytes: Math.max(...steps.flatMap((s) => s.memoryBytesPerRank)),
        wallMs: Date.now() - t0,
      });
    }
    return out;
  } finally {
    if (redis) await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
