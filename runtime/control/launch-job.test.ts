// Pieces of `uniap launch` that need no processes: device split, the Slurm script (checked by bash -n),
// ssh arguments, plan/model checks, progress lines, per-iteration aggregation and the exit outcome.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { loadInputs, outcome, splitDevices, sshArgs } from './launch-job.ts';
import { summarizeStep } from './metrics.ts';
import { formatStepLine } from './progress.ts';
import { renderSbatch } from './slurm.ts';
import { DEFAULT_TRAINING_OPTIONS, type JobStatus } from './types.ts';

const PLAN = join(import.meta.dirname, '..', '..', 'tests', 'runtime', 'fixtures', 'tiny-gpt-dp2.plan.json');

describe('launch helpers', () => {
  it('splits devices over local workers', () => {
    expect(splitDevices(4, 1)).toEqual([4]);
    expect(splitDevices(5, 2)).toEqual([3, 2]);
    expect(splitDevices(2, 8)).toEqual([1, 1]);
  });

  it('checks that the plan belongs to the model', () => {
    expect(loadInputs(PLAN, 'tiny-gpt').model.name).toBe('tiny-gpt');
    const err = (() => {
      try {
        loadInputs(PLAN, 'tiny-t5');
      } catch (e) {
        return e;
      }
    })();
    expect(isUniapError(err) && err.code).toBe('DEGREE_MISMATCH');
    expect((err as Error).message).toMatch(/pass --model tiny-gpt/);
  });

  it('writes a Slurm script bash accepts, with the token only in the environment', () => {
    const script = renderSbatch({
      planPath: '/shared/plan with space.json',
      model: 'llama-2-7b',
      modelName: 'llama-2-7b',
      devices: 16,
      gpusPerNode: 8,
      training: { ...DEFAULT_TRAINING_OPTIONS, steps: 100, checkpointDir: '/shared/ckpt', checkpointEvery: 10, maxRestarts: 2 },
      redisUrl: null,
      python: '/opt/py/bin/python',
      port: 29400,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 10000,
      tls: null,
      repoDir: '/opt/uniap',
    });
    const dir = mkdtempSync(join(tmpdir(), 'uniap-sbatch-'));
    const file = join(dir, 'run.sbatch');
    writeFileSync(file, script);
    try {
      execFileSync('bash', ['-n', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(script).toMatch(/^#SBATCH --nodes=2$/m);
    expect(script).toMatch(/^#SBATCH --gpus-per-node=8$/m);
    expect(script).toMatch(/^export UNIAP_TOKEN=/m);
    expect(script).toMatch(/srun --nodes=2 .*\n.*cli\/worker\.ts --coordinator "\$COORD_HOST:\$COORD_PORT" --node-rank "\$SLURM_NODEID".*--python \/opt\/py\/bin\/python/);
    expect(script).toMatch(/cli\/launch\.ts --coordinator "127\.0\.0\.1:\$COORD_PORT" --plan '\/shared\/plan with space\.json' --model llama-2-7b --steps 100 .*--restart-on-failure --max-restarts 2/);
    expect(script).toMatch(/redis-server --port "\$REDIS_PORT"/);
    expect(script).not.toMatch(/--token/);
  });

  it('passes the token to ssh workers on stdin, not in arguments', () => {
    const args = sshArgs('gpu1', 'read -r UNIAP_TOKEN && export UNIAP_TOKEN && exec node x');
    expect(args.slice(0, 2)).toEqual(['-o', 'BatchMode=yes']);
    expect(args).toContain('gpu1');
    expect(args.join(' ')).not.toMatch(/[0-9a-f]{48}/);
  });
});

describe('progress and metrics', () => {
  it('aggregates one iteration over ranks: slowest time, mean loss of the ranks that have one', () => {
    const m = (rank: number, loss: number | null, timeMs: number) => ({ step: 3, loss, timeMs, computeMs: timeMs - 2, exposedCommMs: rank, memoryBytes: 100 + rank, samples: 8, tokens: 512 });
    const s = summarizeStep([m(0, null, 10), m(1, 2.0, 20), m(2, 3.0, 15)], 8);
    expect(s).toEqual({ step: 3, loss: 2.5, timePerIterationMs: 20, computeMs: 18, exposedCommMs: 2, samplesPerSecond: 400, tokensPerSecond: 25600, memoryBytesPerRank: [100, 101, 102] });
  });

  it('shows loss, throughput and measured vs predicted time per iteration', () => {
    const line = formatStepLine({ step: 5, loss: 7.12345, timePerIterationMs: 812, computeMs: 700, exposedCommMs: 12, samplesPerSecond: 3.4, tokensPerSecond: 1234, memoryBytesPerRank: [] }, { steps: 20, predictedTimePerIterationMs: 640 });
    expect(line).toBe('[#####...............] step 5/20  loss 7.1235  1234 tok/s  3.4 samples/s  iter 812 ms (predicted 640 ms, 1.27x)  exposed comm 12.0 ms');
  });

  it('turns a failed job into its UniapError and a stopped one into exit 130', () => {
    const base = { jobId: 'j', attempt: 0, worldSize: 2, steps: 10, lastStep: 4, lastCheckpointStep: null, planSha256: '', modelName: 'm', predictedTimePerIterationMs: null, ranks: [], lastMetrics: null, restarts: 0, masterAddr: null, masterPort: null, createdAtMs: 0, updatedAtMs: 0 };
    const failed: JobStatus = { ...base, state: 'failed', failure: { code: 'WORKER_LOST', message: 'worker w1 stopped answering heartbeats', workerId: 'w1', rank: null } };
    expect(() => outcome(failed)).toThrow('worker w1 stopped answering heartbeats');
    try {
      outcome(failed);
    } catch (e) {
      expect(isUniapError(e) && e.code).toBe('WORKER_LOST');
    }
    try {
      outcome({ ...base, state: 'stopped', failure: null });
    } catch (e) {
      expect(isUniapError(e) && e.exitCode).toBe(130);
    }
    expect(() => outcome({ ...base, state: 'succeeded', failure: null })).not.toThrow();
  });
});
