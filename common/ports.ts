// Ports: the one way uniap finds a free TCP port (torch.distributed's MASTER_PORT for executors and
// measuring ranks, the private redis-server of `uniap launch`, tests), and host:port parsing with a
// clear error.
import { createServer } from 'node:net';
import { UniapError } from './errors.ts';

/**
 * A TCP port free on `host` right now: the OS picks it (listen on port 0) and we release it at once,
 * so another process may take it before it is used. The probe server is unref()ed, so a pending
 * probe never keeps the process alive.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** "host:port" -> parts; throws CONFIG_INVALID naming the flag. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = i > 0 ? value.slice(0, i).replace(/^\[|\]$/g, '') : '';
  const port = i > 0 ? Number(value.slice(i + 1)) : NaN;
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UniapError('CONFIG_INVALID', `${flag} "${value}" is not HOST:PORT; write e.g. ${flag} 10.0.0.1:50051`);
  }
  return { host, port };
}
