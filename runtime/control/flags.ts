// Command-line values shared by `uniap coordinator`, `uniap worker` and `uniap launch`, checked once:
// the job token, TLS files, comma lists.
import { UniapError } from '../../common/errors.ts';
import type { TlsFiles } from './grpc-transport.ts';
import { TOKEN_ENV } from './transport.ts';

export interface TlsFlags {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
}

/** TLS needs all three files (cert + key identify this process, the CA verifies peers); none: plaintext. */
export function tlsFromFlags(f: TlsFlags): TlsFiles | null {
  const given = [f.tlsCert, f.tlsKey, f.tlsCa].filter((x) => x !== undefined && x !== '');
  if (given.length === 0) return null;
  if (!f.tlsCert || !f.tlsKey || !f.tlsCa) {
    throw new UniapError('CONFIG_INVALID', 'TLS needs --tls-cert, --tls-key and --tls-ca together (PEM files; the CA must have signed the certificates of every coordinator and worker)');
  }
  return { certPath: f.tlsCert, keyPath: f.tlsKey, caPath: f.tlsCa };
}

/** --token, else $UNIAP_TOKEN; null when neither is set. */
export function tokenFromFlags(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  return flag || env[TOKEN_ENV] || null;
}

export function requireToken(flag: string | undefined, what: string): string {
  const t = tokenFromFlags(flag);
  if (!t) throw new UniapError('UNAUTHENTICATED', `${what} needs the job token: set ${TOKEN_ENV} (preferred: it stays out of the process list) or pass --token`);
  return t;
}

export function commaList(value: string | undefined, flag: string): string[] | null {
  if (value === undefined) return null;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UniapError('CONFIG_INVALID', `${flag} is empty; list values separated by commas`);
  return items;
}

export function integerList(value: string | undefined, flag: string): number[] | null {
  const items = commaList(value, flag);
  if (items === null) return null;
  return items.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new UniapError('CONFIG_INVALID', `${flag}: "${s}" is not a device index; write e.g. ${flag} 0,1`);
    return n;
  });
}
