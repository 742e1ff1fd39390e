// The executor's stdout events (one JSON object per line: ready, step, checkpoint, done, error; see
// docs/runtime-executor.md) and their one parser. Two readers need two strictnesses, chosen by an
// explicit option:
//   strict:  runLocal (tests, benchmarks) holds the executor to its contract; a line that is not a
//            well-formed event is an error.
//   lenient: the worker agent must keep a job running whatever the executor prints (a library that
//            writes to stdout, an executor given with UNIAP_EXECUTOR_ROOT): a line that is not a
//            known event is a log line (null), and a known event with a missing or mistyped field
//            gets that field's default (numbers 0, loss null, path '', message the raw object).

export interface ReadyEvent {
  event: 'ready';
  rank: number;
  stage: number;
  layers?: [number, number];
  paramBytes?: number;
  resumedFromStep?: number;
}
export interface StepEvent {
  event: 'step';
  rank: number;
  step: number;
  /** Global-batch loss on the last stage's ranks; null elsewhere. */
  loss: number | null;
  timeMs: number;
  computeMs: number;
  exposedCommMs: number;
  p2pWaitMs?: number;
  memoryBytes: number;
  /** Model-state bytes kept across the step (weights, gradients, 16-bit copy, optimizer moments) on this rank. */
  stateBytes?: number;
  samples: number;
  tokens: number;
}
export interface CheckpointEvent {
  event: 'checkpoint';
  rank?: number;
  step: number;
  path: string;
}
export interface DoneEvent {
  event: 'done';
  rank: number;
}
export interface ErrorEvent {
  event: 'error';
  rank: number;
  message: string;
}
export type ExecutorEvent = ReadyEvent | StepEvent | CheckpointEvent | DoneEvent | ErrorEvent;
export type ExecutorEventKind = ExecutorEvent['event'];

/** The number fields each event must carry. */
const NUMBER_FIELDS: Record<ExecutorEventKind, readonly string[]> = {
  ready: ['rank', 'stage'],
  step: ['rank', 'step', 'timeMs', 'computeMs', 'exposedCommMs', 'memoryBytes', 'samples', 'tokens'],
  checkpoint: ['step'],
  done: ['rank'],
  error: ['rank'],
};

export interface ParseOptions {
  /** true: throw on anything that is not a well-formed event; false: null for non-events, defaults for bad fields. */
  strict: boolean;
}

/** Parses one stdout line of the executor (see the header for what `strict` changes). */
export function parseExecutorEvent(line: string, options: { strict: true }): ExecutorEvent;
export function parseExecutorEvent(line: string, options: ParseOptions): ExecutorEvent | null;
export function parseExecutorEvent(line: string, { strict }: ParseOptions): ExecutorEvent | null {
  const reject = (why: string): null => {
    if (strict) throw new Error(why);
    return null;
  };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return reject(`executor stdout line is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return reject(`executor event is not an object: ${line}`);
  const o = v as Record<string, unknown>;
  const kind = o.event;
  if (typeof kind !== 'string' || !Object.hasOwn(NUMBER_FIELDS, kind)) return reject(`unknown executor event: ${line}`);
  const k = kind as ExecutorEventKind;
  if (strict) {
    for (const f of NUMBER_FIELDS[k]) {
      if (typeof o[f] !== 'number') throw new Error(`executor ${k} event lacks number field "${f}": ${line}`);
    }
    if (k === 'step' && o.loss !== null && typeof o.loss !== 'number') throw new Error(`bad loss: ${line}`);
    if (k === 'checkpoint' && typeof o.path !== 'string') throw new Error(`checkpoint event without path: ${line}`);
    if (k === 'error' && typeof o.message !== 'string') throw new Error(`error event without message: ${line}`);
    return o as unknown as ExecutorEvent;
  }
  const out: Record<string, unknown> = { ...o };
  for (const f of NUMBER_FIELDS[k]) if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) out[f] = 0;
  if (k === 'step' && (typeof o.loss !== 'number' || !Number.isFinite(o.loss))) out.loss = null;
  if (k === 'checkpoint' && typeof o.path !== 'string') out.path = '';
  if (k === 'error' && typeof o.message !== 'string') out.message = JSON.stringify(o);
  return out as unknown as ExecutorEvent;
}
