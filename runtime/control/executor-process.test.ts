// The executor contract as the worker spawns it: flags, environment, parsing of the event lines, and
// TOOL_MISSING with the install hint when the interpreter is missing.
import { describe, expect, it } from 'vitest';
import { isUniapError } from '../../common/errors.ts';
import { PRODUCT_EXECUTOR_ROOT, checkPython, executorArgs, executorEnv, parseExecutorLine, type ExecutorSpec } from './executor-process.ts';
import { choosePython } from '../../common/python.ts';
import { DEFAULT_TRAINING_OPTIONS } from './types.ts';

const spec: ExecutorSpec = {
  python: '/usr/bin/python3',
  executorRoot: PRODUCT_EXECUTOR_ROOT,
  planPath: '/w/plan.json',
  modelPath: '/w/model.json',
  options: { ...DEFAULT_TRAINING_OPTIONS, steps: 7, seed: 5, lr: 0.01, checkpointDir: '/ck', checkpointEvery: 2, overlap: false },
  resume: true,
  rank: 3,
  localRank: 1,
  worldSize: 4,
  masterAddr: 'node0',
  masterPort: 29500,
  backend: 'gloo',
  cudaVisibleDevices: null,
  localWorldSize: 2,
  cwd: '/w',
};

describe('executor contract', () => {
  it('spawns `-m uniap_exec.main` with the contract flags', () => {
    expect(executorArgs(spec)).toEqual([
      '-m', 'uniap_exec.main', '--plan', '/w/plan.json', '--model', '/w/model.json', '--steps', '7', '--seed', '5', '--lr', '0.01',
      '--data', 'synthetic', '--checkpoint-dir', '/ck', '--checkpoint-every', '2', '--resume', '--no-overlap',
    ]);
    const plain = executorArgs({ ...spec, resume: false, options: { ...DEFAULT_TRAINING_OPTIONS, steps: 1 } });
    expect(plain).not.toContain('--checkpoint-dir');
    expect(plain).not.toContain('--no-overlap');
  });

  it('sets the rank environment, the executor root first on PYTHONPATH, and GPUs when given', () => {
    const env = executorEnv({ ...spec, executorRoot: '/double', backend: 'nccl', cudaVisibleDevices: '4,5' }, { PYTHONPATH: '/x' });
    expect(env).toMatchObject({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '29500', UNIAP_BACKEND: 'nccl', CUDA_VISIBLE_DEVICES: '4,5' });
    expect(env.PYTHONPATH?.split(':')[0]).toBe('/double');
    expect(executorEnv(spec, {}).PYTHONPATH?.split(':')[0]).toBe(PRODUCT_EXECUTOR_ROOT);
  });

  it('parses event lines; anything else is a log line', () => {
    expect(parseExecutorLine('{"event":"step","rank":0,"step":2,"loss":null,"timeMs":5,"computeMs":4,"exposedCommMs":1,"memoryBytes":9,"samples":8,"tokens":64}', 1)).toEqual({
      kind: 'step',
      metrics: { step: 2, loss: null, timeMs: 5, computeMs: 4, exposedCommMs: 1, memoryBytes: 9, samples: 8, tokens: 64 },
    });
    expect(parseExecutorLine('{"event":"ready","rank":0}', 11)).toEqual({ kind: 'ready', pid: 11, detailJson: '{"event":"ready","rank":0}' });
    expect(parseExecutorLine('{"event":"checkpoint","step":4,"path":"/p"}', 1)).toEqual({ kind: 'checkpoint', step: 4, path: '/p' });
    expect(parseExecutorLine('{"event":"error","rank":1,"message":"oom"}', 1)).toEqual({ kind: 'error', message: 'oom' });
    expect(parseExecutorLine('{"event":"done","rank":1}', 1)).toEqual({ kind: 'done' });
    expect(parseExecutorLine('Warning: something', 1)).toEqual({ kind: 'log', line: 'Warning: something' });
    expect(parseExecutorLine('[1,2]', 1)).toEqual({ kind: 'log', line: '[1,2]' });
  });

  it('chooses --python, else UNIAP_PYTHON, else /usr/bin/python3', () => {
    expect(choosePython('/opt/py', { UNIAP_PYTHON: '/env/py' })).toBe('/opt/py');
    expect(choosePython(null, { UNIAP_PYTHON: '/env/py' })).toBe('/env/py');
    expect(choosePython(undefined, {})).toBe('/usr/bin/python3');
  });

  it('a missing interpreter is TOOL_MISSING with the install hint and how to choose another', async () => {
    const err = await checkPython('/nonexistent/python3', PRODUCT_EXECUTOR_ROOT, { requireTorch: true }).catch((e: unknown) => e);
    expect(isUniapError(err) && err.code).toBe('TOOL_MISSING');
    expect((err as Error).message).toMatch(/apt-get install python3-torch libopenblas0-pthread.*--python PATH or UNIAP_PYTHON/);
  });
});
