// Canonical JSON and fingerprints: object keys sorted at every level (undefined dropped), so equal
// data gives equal text and equal sha256 fingerprints for models, clusters, profiles and plans.
import { createHash } from 'node:crypto';

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** First 16 hex digits of the sha256 of the canonical JSON. */
export function fingerprint(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}
