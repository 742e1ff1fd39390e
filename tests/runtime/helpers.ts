// Shared pieces of the control-plane tests: a private redis-server, a small valid plan and model,
// waiting on conditions without timing assertions, and process-liveness checks by pid.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFacts } from '../../configs/model-facts.ts';
import { resolveModel } from '../../configs/model-resolve.ts';
import { readJsonFile as readJson } from '../../common/json-file.ts';
import type { Plan } from '../../planner/plan.ts';
import { DEFAULT_TRAINING_OPTIONS, type JobEvent, type TrainingOptions } from '../../runtime/control/types.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The executor TEST DOUBLE (pure Python, no torch); see fixtures/executor-double/README.md. */
export const DOUBLE_EXECUTOR_ROOT = join(REPO_ROOT, 'tests', 'runtime', 'fixtures', 'executor-double');
const TINY_GPT = join(REPO_ROOT, 'configs', 'models', 'tiny-gpt.json');
export const PYTHON = process.env.UNIAP_PYTHON || '/usr/bin/python3';

/** A data-parallel plan over `world` ranks for a model of `layers` layers (valid for parsePlan). */
export function dpPlan(world: number, layers = 4, predictedMs: number | null = 50): Plan {
  const plan: Plan = {
    schemaVersion: 1,
    model: { name: 'double-model', fingerprint: '', layers },
    cluster: { name: 'local-cpu', fingerprint: '', devices: world },
    globalBatch: 4 * world,
    microBatches: 1,
    microBatchSize: 4 * world,
    schedule: 'gpipe',
    pipelineDegree: 1,
    stages: [{ index: 0, layers: [0, layers - 1], ranks: [0, world], strategies: [{ layers: [0, layers - 1], dp: world, tp: 1, fsdp: false, recompute: false }] }],
    createdBy: 'hand-written (test)',
  };
  if (predictedMs !== null) {
    plan.predictions = { timePerIterationMs: predictedMs, samplesPerSecond: 1, tokensPerSecond: 1, mfu: 0.1, memoryPerStageBytes: [1e6], usableMemoryBytes: 1e9 };
  }
  return plan;
}

/**
 * A real resolved model of `layers` layers (tiny-gpt's embedding, layers - 2 decoder blocks, head),
 * named as dpPlan names it, with its facts: what `uniap launch` submits.
 */
export function doubleModelJson(layers = 4): string {
  const config: Record<string, unknown> = { ...(readJson(TINY_GPT) as Record<string, unknown>), name: 'double-model' };
  config.blocks = [{ type: 'embedding', positionEmbedding: 'learned' }, { type: 'decoder', count: layers - 2 }, { type: 'head', tiedEmbedding: true, bias: false }];
  return JSON.stringify(withFacts(resolveModel(config, 'tests/runtime/helpers.ts')));
}

export function options(o: Partial<TrainingOptions> = {}): TrainingOptions {
  return { ...DEFAULT_TRAINING_OPTIONS, steps: 3, ...o };
}

/** Polls `cond` (no timing assertion: only the overall test timeout bounds it). */
export async function waitFor<T>(what: string, cond: () => T | null | undefined | false | Promise<T | null | undefined | false>, limitMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether a pid is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (existsSync(stat)) {
    try {
      const s = readFileSync(stat, 'utf8');
      const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  return true;
}

/** Collects a job's events into an array as they arrive. */
export function collect(): { events: JobEvent[]; push: (e: JobEvent) => void } {
  const events: JobEvent[] = [];
  return { events, push: (e) => events.push(e) };
}

export const silentLog = (): void => {};
export function memoryLog(): { lines: string[]; log: (l: string) => void } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(l) };
}
