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
export function modelFromJson(json: unknown, file: string): ModelSpec {
  return resolveModel(isHuggingFaceConfig(json) ? importHuggingFaceConfig(json, file) : json, file);
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || s.endsWith('.json');
}

/** A preset name, a ModelConfig JSON path, or a Hugging Face config.json path. */
export function loadModel(nameOrPath: string): ModelSpec {
  const presets = modelPresetNames();
  if (!looksLikePath(nameOrPath) && presets.includes(nameOrPath)) {
    const file = join(MODEL_PRESET_DIR, `${nameOrPath}.json`);
    return { ...resolveModel(readJsonFile(file), file), source: nameOrPath };
  }
  if (existsSync(nameOrPath) && statSync(nameOrPath).isFile()) return modelFromJson(readJsonFile(nameOrPath), nameOrPath);
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
