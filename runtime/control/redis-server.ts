// Starts a private redis-server (loopback, a free port, a temporary directory, no persistence, ending
// with this process) for `uniap launch` when no --redis URL is given, and for the tests. Says how to
// install Redis when the binary is missing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { UniapError } from '../../common/errors.ts';
import { dieWithParent } from '../../common/die-with-parent.ts';
import { choosePython } from '../../common/python.ts';
import { freePort } from '../../common/ports.ts';

export interface RedisServerHandle {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The redis-server binary: $UNIAP_REDIS_SERVER, else /usr/bin/redis-server, else one on PATH; null when none. */
export function findRedisServer(): string | null {
  const candidates = [process.env.UNIAP_REDIS_SERVER, '/usr/bin/redis-server', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'redis-server'))];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}

export const REDIS_MISSING_HINT = 'install it (apt-get install redis-server) or pass --redis redis://HOST:PORT of a running one';

export async function startRedisServer(options: { binary?: string } = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? findRedisServer();
  if (!binary) throw new UniapError('TOOL_MISSING', `no redis-server found; ${REDIS_MISSING_HINT}`);
  let lastError = '';
  // A port found free can be taken before redis binds it; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort('127.0.0.1');
    const dir = mkdtempSync(join(tmpdir(), 'uniap-redis-'));
    // Bound to this process: a launch killed with SIGKILL leaves no redis-server behind.
    const cmd = dieWithParent(choosePython(null), binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']);
    // Own process group: a Ctrl-C at the terminal must not end Redis before the coordinator is done.
    const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const ready = await waitReady(child);
    if (ready === true) {
      child.stdout?.resume();
      child.stderr?.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid ?? 0,
        stop: () => stopChild(child, dir),
      };
    }
    lastError = ready;
    rmSync(dir, { recursive: true, force: true });
  }
  throw new UniapError('TOOL_MISSING', `redis-server (${binary}) did not start: ${lastError}; ${REDIS_MISSING_HINT}`);
}

function waitReady(child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        cleanup();
        resolve(true);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      resolve(`exited with code ${code}: ${out.trim().split('\n').slice(-2).join(' ')}`);
    };
    const onError = (e: Error): void => {
      cleanup();
      resolve(e.message);
    };
    const cleanup = (): void => {
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopChild(child: ChildProcess, dir: string): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}
