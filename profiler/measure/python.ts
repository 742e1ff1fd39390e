// Finding the Python interpreter that measures, and proving it has torch: one probe run
// (py/uniap_measure/probe.py) that reports versions and devices, or one TOOL_MISSING error that
// says what to install and how to choose another interpreter.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UniapError } from '../../common/errors.ts';
import { DEFAULT_PYTHON, INSTALL_HINT, PYTHON_ENV_VAR, TORCH_PY_DIR, pythonPathWith } from '../../common/python.ts';


/** Folder holding the `uniap_measure` package. */
export const MEASURE_PY_DIR = fileURLToPath(new URL('./py/', import.meta.url));
/** Folder holding the shared `uniap_torch` package (its layers are what the executor runs and we measure). */
export const LAYERS_PY_DIR = TORCH_PY_DIR;

export interface PythonInfo {
  interpreter: string;
  python: string;
  torch: string;
  cpuModel: string;
  cpuCount: number;
  cudaDevices: number;
  cuda: string;
  gpuName: string;
  gpuMemoryBytes: number;
  nccl: string;
  driver: string;
  gloo: boolean;
  ncclAvailable: boolean;
  blas: string;
}


function howToChoose(interpreter: string): string {
  return `(now: ${interpreter}; default --python, else $${PYTHON_ENV_VAR}, else ${DEFAULT_PYTHON})`;
}

/** Environment for every Python process we start: our package and the executor's on the path. */
export function pythonEnv(extra: Record<string, string> = {}, layersDir = LAYERS_PY_DIR): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: pythonPathWith([MEASURE_PY_DIR, layersDir]),
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    // One thread unless the job sets more: N ranks on a shared CPU must not oversubscribe it.
    OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1',
    ...extra,
  };
}

/** Run the probe; throws TOOL_MISSING when Python or torch is missing. */
export function probePython(interpreter: string): PythonInfo {
  const res = spawnSync(interpreter, ['-m', 'uniap_measure.probe'], { env: pythonEnv(), encoding: 'utf8', timeout: 120_000 });
  if (res.error) {
    const code = (res.error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : `could not be started (${code ?? res.error.message})`;
    throw new UniapError(
      'TOOL_MISSING',
      `uniap profile needs Python 3 with PyTorch, but the interpreter ${interpreter} was ${why}; ${INSTALL_HINT} ${howToChoose(interpreter)}`,
      { interpreter, reason: why },
    );
  }
  const lastLine = (res.stdout ?? '').trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(lastLine) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if (res.status === 3 || (parsed && typeof parsed.torchError === 'string')) {
    throw new UniapError(
      'TOOL_MISSING',
      `PyTorch is not importable by ${interpreter} (${String(parsed?.torchError ?? 'import torch failed')}); ${INSTALL_HINT} ${howToChoose(interpreter)}`,
      { interpreter, reason: parsed?.torchError },
    );
  }
  if (res.status !== 0 || !parsed) {
    const err = (res.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new UniapError(
      'TOOL_MISSING',
      `${interpreter} is not a working Python 3 for uniap profile (exit ${res.status ?? res.signal}: ${err || 'no output'}); ${howToChoose(interpreter)}`,
      { interpreter, status: res.status, stderr: err },
    );
  }
  const s = (k: string) => (typeof parsed![k] === 'string' ? (parsed![k] as string) : '');
  const n = (k: string) => (typeof parsed![k] === 'number' ? (parsed![k] as number) : 0);
  const b = (k: string) => parsed![k] === true;
  return {
    interpreter,
    python: s('python'),
    torch: s('torch'),
    cpuModel: s('cpuModel'),
    cpuCount: n('cpuCount') || 1,
    cudaDevices: n('cudaDevices'),
    cuda: s('cuda'),
    gpuName: s('gpuName'),
    gpuMemoryBytes: n('gpuMemoryBytes'),
    nccl: s('nccl'),
    driver: s('driver'),
    gloo: b('gloo'),
    ncclAvailable: b('ncclAvailable'),
    blas: s('blas'),
  };
}

/** The shared layer module file; throws when the `uniap_torch` package is absent. */
export function layersFile(layersDir = LAYERS_PY_DIR): string {
  const f = path.join(layersDir, 'uniap_torch', 'layers.py');
  if (!existsSync(f)) {
    throw new UniapError(
      'TOOL_MISSING',
      `the layer implementation ${f} is missing, and layers are measured with it; restore python/uniap_torch from the uniap checkout`,
      { file: f },
    );
  }
  return f;
}

/**
 * Hash of the code whose behaviour a measurement depends on: every .py file of our measuring package
 * and of the shared `uniap_torch` package (when present). Part of the cache key.
 */
export function measurementCodeHash(layersDir = LAYERS_PY_DIR): string {
  const h = createHash('sha256');
  for (const dir of [path.join(MEASURE_PY_DIR, 'uniap_measure'), path.join(layersDir, 'uniap_torch')]) {
    if (!existsSync(dir)) {
      h.update(`missing:${path.basename(dir)}`);
      continue;
    }
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.py')).sort()) {
      h.update(f);
      h.update(readFileSync(path.join(dir, f)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * probePython, remembered: importing torch costs seconds, so the probe's answer is kept under the
 * cache root, keyed by what would change it — the interpreter (path, mtime), torch's installed
 * package (its __init__.py path, mtime, size), the host, CUDA_VISIBLE_DEVICES and the GPUs the
 * driver lists. Finding torch's package without importing it takes one interpreter start (~50 ms).
 */
export function probePythonCached(interpreter: string, cacheRoot: string): PythonInfo {
  const key = probeKey(interpreter);
  if (!key) return probePython(interpreter);
  const file = path.join(cacheRoot, 'probe', `${key}.json`);
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as PythonInfo;
    if (info.interpreter === interpreter && typeof info.torch === 'string' && info.torch) return info;
  } catch {
    // not cached yet (or unreadable): probe
  }
  const info = probePython(interpreter);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmpFile = `${file}.${process.pid}.tmp`;
    writeFileSync(tmpFile, JSON.stringify(info));
    renameSync(tmpFile, file);
  } catch {
    // a read-only cache only costs the probe next time
  }
  return info;
}

function probeKey(interpreter: string): string | undefined {
  const res = spawnSync(interpreter, ['-c', "import importlib.util as u; s = u.find_spec('torch'); print(s.origin if s else '')"], {
    env: pythonEnv(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  const origin = res.status === 0 ? (res.stdout ?? '').trim() : '';
  if (!origin) return undefined; // no torch: the full probe says so precisely
  const st = (p: string) => {
    try {
      const s = statSync(p);
      return `${s.mtimeMs}:${s.size}`;
    } catch {
      return 'missing';
    }
  };
  let gpus = '';
  try {
    gpus = readdirSync('/proc/driver/nvidia/gpus').sort().join(',');
  } catch {
    gpus = 'none';
  }
  const parts = [interpreter, st(interpreter), origin, st(origin), os.hostname(), process.env.CUDA_VISIBLE_DEVICES ?? '*', gpus];
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16);
}
