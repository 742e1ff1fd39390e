// A tiny JSON reader that validates while it reads: every accessor knows its JSON path and the file,
// so a bad value becomes one ConfigError line "file: at $.a.b[2]: problem; fix". Unknown keys are
// rejected by `done()` (call it after reading every field of an object).
import { ConfigError } from '../common/errors.ts';

export class JsonReader {
  private readonly seen = new Set<string>();
  constructor(
    readonly file: string,
    readonly path: string,
    readonly value: unknown,
  ) {}

  static root(file: string, value: unknown): JsonReader {
    return new JsonReader(file, '$', value);
  }

  fail(problem: string, fix: string, path = this.path): never {
    throw new ConfigError(this.file, path, problem, fix);
  }

  private get obj(): Record<string, unknown> {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.fail(`expected an object, got ${describe(v)}`, 'write a JSON object { ... } here');
    }
    return v as Record<string, unknown>;
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.obj, key) && this.obj[key] !== undefined;
  }

  /** A child reader for `key`; throws if missing unless optional. */
  child(key: string): JsonReader {
    this.seen.add(key);
    if (!this.has(key)) this.fail(`missing field "${key}"`, `add "${key}"`, `${this.path}.${key}`);
    return new JsonReader(this.file, `${this.path}.${key}`, this.obj[key]);
  }

  optChild(key: string): JsonReader | undefined {
    this.seen.add(key);
    return this.has(key) ? new JsonReader(this.file, `${this.path}.${key}`, this.obj[key]) : undefined;
  }

  string(key: string, options: { oneOf?: readonly string[] } = {}): string {
    return this.child(key).asString(options);
  }
  optString(key: string, options: { oneOf?: readonly string[] } = {}): string | undefined {
    return this.optChild(key)?.asString(options);
  }
  number(key: string, options: NumberOptions = {}): number {
    return this.child(key).asNumber(options);
  }
  optNumber(key: string, options: NumberOptions = {}): number | undefined {
    return this.optChild(key)?.asNumber(options);
  }
  bool(key: string): boolean {
    return this.child(key).asBool();
  }
  optBool(key: string): boolean | undefined {
    return this.optChild(key)?.asBool();
  }
  array(key: string, options: { minLength?: number } = {}): JsonReader[] {
    return this.child(key).asArray(options);
  }
  optArray(key: string): JsonReader[] | undefined {
    return this.optChild(key)?.asArray();
  }

  asString(options: { oneOf?: readonly string[] } = {}): string {
    if (typeof this.value !== 'string') this.fail(`expected a string, got ${describe(this.value)}`, 'write a quoted string');
    if (options.oneOf && !options.oneOf.includes(this.value)) {
      this.fail(`"${this.value}" is not allowed`, `use one of: ${options.oneOf.join(', ')}`);
    }
    return this.value;
  }

  asNumber(options: NumberOptions = {}): number {
    const v = this.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`expected a number, got ${describe(v)}`, 'write a finite number');
    if (options.integer && !Number.isInteger(v)) this.fail(`expected an integer, got ${v}`, 'write a whole number');
    if (options.min !== undefined && v < options.min) this.fail(`${v} is below the minimum ${options.min}`, `use a value >= ${options.min}`);
    if (options.max !== undefined && v > options.max) this.fail(`${v} is above the maximum ${options.max}`, `use a value <= ${options.max}`);
    if (options.positive && v <= 0) this.fail(`${v} must be positive`, 'use a value > 0');
    return v;
  }

  asBool(): boolean {
    if (typeof this.value !== 'boolean') this.fail(`expected true or false, got ${describe(this.value)}`, 'write true or false');
    return this.value;
  }

  asArray(options: { minLength?: number } = {}): JsonReader[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${describe(this.value)}`, 'write a JSON array [ ... ]');
    const arr = this.value as unknown[];
    if (options.minLength !== undefined && arr.length < options.minLength) {
      this.fail(`expected at least ${options.minLength} entries, got ${arr.length}`, `add entries`);
    }
    return arr.map((v, i) => new JsonReader(this.file, `${this.path}[${i}]`, v));
  }

  /** Entries of an object used as a map (all keys allowed). */
  asEntries(): [string, JsonReader][] {
    return Object.keys(this.obj).map((k) => [k, new JsonReader(this.file, `${this.path}.${k}`, this.obj[k])]);
  }

  /** Reject keys that were never read. Call after reading all fields of this object. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key)) {
        const known = [...this.seen].sort().join(', ');
        this.fail(`unknown key "${key}"`, `remove it or use one of: ${known || '(no keys allowed)'}`, `${this.path}.${key}`);
      }
    }
  }
}

export interface NumberOptions {
  integer?: boolean;
  min?: number;
  max?: number;
  positive?: boolean;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
