// Loading models by name or path: the built-in presets (configs/models/<name>.json), a ModelConfig
// JSON file, or a Hugging Face config.json (recognized by `model_type` / `architectures`), plus the
// model fingerprint that plans record to tie themselves to one exact model.
import { fingerprint } from '../common/canonical-json.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UniapError } from '../common/errors.ts';
import { readJsonFile } from '../common/json-file.ts';
import { importHuggingFaceConfig, isHuggingFaceConfig } from './hf-import.ts';
import { modelParameters } from './model-derive.ts';
import type { ModelFamily, ModelSpec } from './model-spec.ts';
import { resolveModel } from './model-resolve.ts';

/** Directory of the built-in model presets. */
export const MODEL_PRESET_DIR = fileURLToPath(new URL('./models/', import.meta.url));

export interface ModelPresetSummary {
  name: string;
  family: ModelFamily;
  /** Layers of the expanded graph (embeddings and head included). */
  layers: number;
  parameters: number;
  description: string;
  /** Tokens per sample of the first chain (vision: patch tokens). */
  seqLength: number;
  dtype: string;
}

export function modelPresetNames(): string[] {
  return readdirSync(MODEL_PRESET_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** A ModelSpec from a ModelConfig or Hugging Face config.json already parsed from `file`. */
export function modelFromJson(json: unknown, file: string, seqLength?: number): ModelSpec {
  const hf = isHuggingFaceConfig(json);
  const config = hf ? importHuggingFaceConfig(json, file) : json;
  const spec = resolveModel(seqLength === undefined ? config : withSeqLength(config, seqLength, file), file);
  // A Hugging Face file's training length is chosen by a rule (configs/hf-import.ts); the source says which.
  const rule = hf && seqLength === undefined ? /sequence length \d+ from [^;]+/.exec(String((config as { description?: unknown }).description ?? ''))?.[0] : undefined;
  return rule ? { ...spec, source: `${file} (${rule})` } : spec;
}

/**
 * The model config with `seqLength` tokens per sample (--seq-length): the top-level length and every
 * block's. Vision models take their tokens from the image and patch size, so they refuse it.
 */
export function withSeqLength(config: unknown, seqLength: number, source: string): unknown {
  if (!Number.isInteger(seqLength) || seqLength < 1) {
    throw new UniapError('CONFIG_INVALID', `--seq-length ${seqLength} is not a whole number of tokens >= 1; pass e.g. --seq-length 4096`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return config; // resolveModel reports it
  const c = config as Record<string, unknown>;
  if (c.family === 'vision') {
    throw new UniapError('CONFIG_INVALID', `${source} is a vision model: its tokens per sample come from the image and patch size; leave out --seq-length`);
  }
  const blocks = Array.isArray(c.blocks) ? c.blocks.map((b) => (b && typeof b === 'object' && 'seqLength' in b ? { ...b, seqLength } : b)) : c.blocks;
  return { ...c, seqLength, blocks };
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || s.endsWith('.json');
}

/** A preset name, a ModelConfig JSON path, or a Hugging Face config.json path. */
export function loadModel(nameOrPath: string, seqLength?: number): ModelSpec {
  const presets = modelPresetNames();
  if (!looksLikePath(nameOrPath) && presets.includes(nameOrPath)) {
    const file = join(MODEL_PRESET_DIR, `${nameOrPath}.json`);
    return { ...modelFromJson(readJsonFile(file), file, seqLength), source: nameOrPath };
  }
  if (existsSync(nameOrPath) && statSync(nameOrPath).isFile()) return modelFromJson(readJsonFile(nameOrPath), nameOrPath, seqLength);
  if (existsSync(nameOrPath)) {
    throw new UniapError('FILE_NOT_FOUND', `"${nameOrPath}" is a directory, not a model file; give the path of a model JSON or a Hugging Face config.json inside it`, { path: nameOrPath });
  }
  if (looksLikePath(nameOrPath)) {
    throw new UniapError('FILE_NOT_FOUND', `model file "${nameOrPath}" not found; give the path of a model JSON or a Hugging Face config.json, or a preset name (uniap models)`, { path: nameOrPath });
  }
  throw new UniapError('UNKNOWN_PRESET', `unknown model preset "${nameOrPath}"; use one of: ${presets.join(', ')} (or a path to a model JSON)`, { name: nameOrPath, presets });
}

export function listModelPresets(): ModelPresetSummary[] {
  return modelPresetNames().map((name) => {
    const file = join(MODEL_PRESET_DIR, `${name}.json`);
    const json = readJsonFile(file);
    const m = resolveModel(json, file);
    const description = (json as { description?: unknown }).description;
    return {
      name,
      family: m.family,
      layers: m.layers.length,
      parameters: modelParameters(m),
      description: typeof description === 'string' ? description : '',
      seqLength: m.layers[0]?.seqLength ?? 0,
      dtype: m.dtype,
    };
  });
}


/** sha256 of the canonical JSON of name + layers + edges, first 16 hex digits (source is not part of it). */
export function modelFingerprint(m: ModelSpec): string {
  return fingerprint({ name: m.name, layers: m.layers, edges: m.edges });
}
