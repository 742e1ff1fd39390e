// `uniap calibrate --model M --cluster C --out calibrated.json [--profile base.json]`: run a handful
// of short, diverse plans through the real runtime (launch), fit the cost model's factors on some of
// them (compute, collectives, P2P, optimizer, overlap, reserved memory) and write a calibrated
// profile whose provenance records the fit; report the error before and after on the plans kept
// out of the fit. Ctrl-C stops the running plan cleanly and writes nothing.
import { renameSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { UniapError } from '../common/errors.ts';
import { loadCluster } from '../configs/cluster-presets.ts';
import { totalDevices } from '../configs/cluster-spec.ts';
import { loadModel } from '../configs/model-presets.ts';
import type { CalibrationErrors, CalibrationFactors } from '../profiler/calibration.ts';
import { clusterFromProfile } from '../profiler/profile-cluster.ts';
import { loadProfile, saveProfile } from '../profiler/profile-io.ts';
import { commaList } from '../runtime/control/flags.ts';
import { calibrate, type CalibrateResult } from '../runtime/calibrate/calibrate.ts';
import { fmtBytes, fmtMs, fmtPercent, printJson, table } from './format.ts';
import { checkSeqLength, SEQ_LENGTH_OPTION, seqLengthLine } from './inputs.ts';

interface CalibrateArgs {
  model: string;
  cluster?: string;
  profile?: string;
  out: string;
  batch?: number;
  plans: number;
  'hold-out'?: number;
  steps: number;
  warmup: number;
  'seq-length'?: number;
  python?: string;
  'device-kind'?: 'cpu' | 'gpu';
  hosts?: string;
  redis?: string;
  'local-workers': number;
  verbose: boolean;
  json: boolean;
}

const INTEGER_FLAGS = ['plans', 'steps', 'warmup', 'local-workers'] as const;

export const calibrateCommand: CommandModule<object, CalibrateArgs> = {
  command: 'calibrate',
  describe: 'Run short plans on the cluster, fit the cost model to their measured times and memory, write a calibrated profile',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'Model preset name, model JSON, or Hugging Face config.json' })
      .option('cluster', { type: 'string', describe: 'Cluster preset, local-cpu:N or cluster JSON (optional with a --profile that carries its cluster)' })
      .option('profile', { type: 'string', describe: 'Profile to calibrate (default: the datasheet-derived one)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Write the calibrated profile here' })
      .option('batch', { type: 'number', describe: 'Global batch of the calibration plans (default: 4 x devices)' })
      .option('plans', { type: 'number', default: 8, describe: 'Plans to run (the first that fit of: dp, tp, fsdp, pp GPipe, pp 1F1B, mixed, recompute, ...)' })
      .option('hold-out', { type: 'number', describe: 'Plans kept out of the fit to report the error on (default: about a third)' })
      .option('steps', { type: 'number', default: 10, describe: 'Iterations per plan, warm-up included' })
      .option('warmup', { type: 'number', default: 3, describe: 'Leading iterations per plan left out of the timing' })
      .option('seq-length', SEQ_LENGTH_OPTION)
      .option('python', { type: 'string', describe: 'Python interpreter with torch (default: $UNIAP_PYTHON, else /usr/bin/python3)' })
      .option('device-kind', { choices: ['cpu', 'gpu'] as const, describe: 'Local: run on CPU processes or GPUs (default: GPUs when there are enough)' })
      .option('hosts', { type: 'string', describe: 'Comma list of ssh hosts, one worker each (as launch --hosts)' })
      .option('redis', { type: 'string', describe: 'Redis URL for the jobs\' state (default: start a private redis-server)' })
      .option('local-workers', { type: 'number', default: 1, describe: 'Local: worker processes sharing the devices' })
      .option('verbose', { type: 'boolean', default: false, describe: 'Print launch\'s output of every plan' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' })
      .check((a) => {
        for (const k of INTEGER_FLAGS) if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer, got ${a[k]}`);
        if (a.plans < 2) throw new Error('--plans must be at least 2 (one to fit, one to check)');
        if (a.steps <= a.warmup) throw new Error(`--steps ${a.steps} must be larger than --warmup ${a.warmup} (the timed steps are the ones after the warm-up)`);
        if (a.batch !== undefined && (!Number.isInteger(a.batch) || a.batch < 1)) throw new Error(`--batch must be a positive integer, got ${a.batch}`);
        if (a['hold-out'] !== undefined && (!Number.isInteger(a['hold-out']) || a['hold-out'] < 0)) throw new Error(`--hold-out must be a non-negative integer, got ${a['hold-out']}`);
        checkSeqLength(a['seq-length']);
        return true;
      })
      .example('uniap calibrate --model tiny-gpt --cluster local-cpu:2 --out calibrated.json', 'on this machine (CPU processes, Gloo)')
      .example('uniap plan --model tiny-gpt --cluster local-cpu:2 --profile calibrated.json --batch 8', 'then plan on the calibrated profile') as never,
  handler: async (a) => {
    const model = loadModel(a.model, a['seq-length']);
    const base = a.profile ? loadProfile(a.profile) : null;
    const cluster = a.cluster ? loadCluster(a.cluster) : base?.cluster ? clusterFromProfile(base) : null;
    if (!cluster) throw new UniapError('CONFIG_INVALID', 'no cluster given; pass --cluster NAME (see `uniap clusters`, or local-cpu:N) or a --profile that carries its cluster');
    const n = totalDevices(cluster);
    const globalBatch = a.batch ?? 4 * n;

    // Ctrl-C: launch stops the running job itself; this flag stops the loop between plans.
    let interrupted = false;
    const onSignal = (): void => {
      interrupted = true;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const bar = progressBar(a.plans * a.steps, a.json);
    let result: CalibrateResult;
    try {
      result = await calibrate({
        modelSpec: model,
        cluster,
        base,
        globalBatch,
        plans: a.plans,
        heldOut: a['hold-out'] ?? null,
        model: a.model,
        seqLength: a['seq-length'] ?? null,
        steps: a.steps,
        warmup: a.warmup,
        python: a.python ?? null,
        deviceKind: a['device-kind'] ?? null,
        hosts: commaList(a.hosts, '--hosts'),
        redisUrl: a.redis ?? null,
        localWorkers: a['local-workers'],
        verbose: a.verbose,
        log: process.stderr,
        interrupted: () => interrupted,
        onProgress: (i, name, step) => bar.update(i, name, step, a.steps),
      });
    } finally {
      bar.end();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    // Write to a sibling and rename: an interrupted write never leaves half a profile at --out.
    const tmp = `${a.out}.tmp-${process.pid}`;
    saveProfile(result.profile, tmp);
    renameSync(tmp, a.out);
    if (a.json) {
      printJson({ out: a.out, factors: result.fit.factors, plans: result.fit.plans, heldOut: result.fit.heldOut, fit: result.fit.fit, skipped: result.skipped });
      return;
    }
    process.stdout.write(formatCalibration(result, cluster.name, globalBatch) + '\n' + seqLengthLine(model, a['seq-length']) + '\n' + `Calibrated profile written to ${a.out}; plan with --profile ${a.out}\n`);
  },
};

/** One redrawn line on a terminal, a line per plan elsewhere; on stderr, so --json stays clean. */
function progressBar(totalSteps: number, quiet: boolean) {
  const tty = process.stderr.isTTY === true;
  const t0 = Date.now();
  let lastPlan = -1;
  let open = false;
  return {
    update(plan: number, name: string, step: number, steps: number): void {
      if (quiet) return;
      const done = plan * steps + step;
      const width = 24;
      const filled = Math.round((Math.min(done, totalSteps) / totalSteps) * width);
      const elapsed = Date.now() - t0;
      const eta = done > 0 ? `ETA ${Math.round(((totalSteps - done) * elapsed) / done / 1000)}s` : 'ETA --';
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] plan ${plan + 1}: ${name}, step ${step}/${steps}  ${eta}`;
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line}`);
        open = true;
      } else if (plan !== lastPlan) {
        process.stderr.write(`calibrate: plan ${plan + 1}: ${name}\n`);
      }
      lastPlan = plan;
    },
    end(): void {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

function pctErr(predicted: number, measured: number): string {
  const e = (predicted - measured) / measured;
  return `${e >= 0 ? '+' : ''}${(100 * e).toFixed(1)}%`;
}

function errorsLine(e: CalibrationErrors): string {
  return `time MAPE ${fmtPercent(e.timeMape)}, memory MAPE ${fmtPercent(e.memoryMape)}${e.kendallTau !== undefined ? `, Kendall tau ${e.kendallTau.toFixed(2)}` : ''}`;
}

function factorsLine(f: CalibrationFactors): string {
  return (
    `compute x${f.computeScale.toFixed(3)} + ${fmtMs(f.layerOverheadMs)} per layer call, collective bandwidth /${f.collectiveScale.toFixed(3)}, latency x${f.latencyScale.toFixed(3)}, p2p x${f.p2pScale.toFixed(3)}, ` +
    `optimizer x${f.optimizerScale.toFixed(3)}, overlap slowdown ${f.overlapSlowdown.toFixed(3)}, reserved ${fmtBytes(f.reservedBytes)} per device`
  );
}

export function formatCalibration(r: CalibrateResult, clusterName: string, globalBatch: number): string {
  const rows = r.fit.plans.map((p) => [
    p.name, p.role, fmtMs(p.measuredMs), fmtMs(p.predictedBeforeMs), pctErr(p.predictedBeforeMs, p.measuredMs),
    fmtMs(p.predictedAfterMs), pctErr(p.predictedAfterMs, p.measuredMs),
    fmtBytes(p.measuredMemoryBytes), pctErr(p.predictedMemoryBeforeBytes, p.measuredMemoryBytes), pctErr(p.predictedMemoryAfterBytes, p.measuredMemoryBytes),
  ]);
  const heldOut = r.fit.plans.filter((p) => p.role === 'held-out').length;
  const lines = [
    `Calibration: ${r.plans.length} plan(s) on ${clusterName}, global batch ${globalBatch}; base profile ${r.profile.provenance.calibration!.base}`,
    '',
    table(['plan', 'role', 'measured', 'before', 'error', 'after', 'error', 'memory', 'error before', 'error after'], rows),
    '',
    `Factors: ${factorsLine(r.fit.factors)}`,
    `Fit plans (${r.fit.plans.length - heldOut}): before ${errorsLine(r.fit.fit.before)}; after ${errorsLine(r.fit.fit.after)}`,
    heldOut > 0
      ? `Held-out plans (${heldOut}, not used to fit): before ${errorsLine(r.fit.heldOut.before)}; after ${errorsLine(r.fit.heldOut.after)}`
      : 'Held-out plans: none (run 3 or more plans to keep some out of the fit)',
  ];
  if (r.skipped.length) lines.push(`Skipped (the base profile predicts they do not fit): ${r.skipped.join(', ')}`);
  return lines.join('\n');
}
