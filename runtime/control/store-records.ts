// How the job store writes its records: JSON with a `schemaVersion` field per record kind, and one
// reader that refuses a record of a version this uniap does not know (instead of misreading it).
import { UniapError } from '../../common/errors.ts';

/** The version each kind of stored record is written with; bump one when its shape changes. */
export const STORE_SCHEMA_VERSIONS = {
  job: 1,
  worker: 1,
  event: 1,
  metrics: 1,
  'rank-step': 1,
  'rank-checkpoint': 1,
} as const;

export type StoredKind = keyof typeof STORE_SCHEMA_VERSIONS;

/** The record as stored: its fields plus the schema version. */
export function encodeRecord<T extends object>(kind: StoredKind, record: T): string {
  return JSON.stringify({ schemaVersion: STORE_SCHEMA_VERSIONS[kind], ...record });
}

/**
 * Reads a stored record back without its `schemaVersion`. A record without a version (an older uniap
 * wrote it) or with another version than this uniap writes is a CONFIG_INVALID error naming the fix.
 */
export function decodeRecord<T>(kind: StoredKind, text: string, where: string): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UniapError('CONFIG_INVALID', `${kind} record ${where} in the job store is not JSON (${(e as Error).message}); use a fresh --redis database or key prefix`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UniapError('CONFIG_INVALID', `${kind} record ${where} in the job store is not an object; use a fresh --redis database or key prefix`);
  }
  const { schemaVersion, ...record } = data as { schemaVersion?: unknown };
  const known = STORE_SCHEMA_VERSIONS[kind];
  if (schemaVersion === known) return record as T;
  const detail = { kind, where, schemaVersion: schemaVersion ?? null, supported: known };
  if (typeof schemaVersion === 'number' && Number.isInteger(schemaVersion) && schemaVersion > known) {
    throw new UniapError(
      'CONFIG_INVALID',
      `${kind} record ${where} schema version ${schemaVersion} is newer than this uniap (${known}); upgrade uniap or use a fresh --redis database`,
      detail,
    );
  }
  throw new UniapError(
    'CONFIG_INVALID',
    `${kind} record ${where} has schema version ${schemaVersion === undefined ? '(none)' : JSON.stringify(schemaVersion)}, this uniap reads ${known}; use a fresh --redis database or key prefix`,
    detail,
  );
}
