// Profile files: parse (validate every field once, unknown keys rejected, schema version checked),
// load, save, and the fingerprint a plan records to say which profile it was made with.
import { fingerprint } from '../common/canonical-json.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UniapError } from '../common/errors.ts';
import { JsonReader } from '../configs/validate.ts';
import { parseJsonText } from '../common/json-file.ts';
import {
  COLLECTIVES,
  type Collective,
  type LayerProfileEntry,
  type LinkProfileEntry,
  type Profile,
  PROFILE_SCHEMA_VERSION,
  type Provenance,
} from './profile.ts';

import type { CalibrationErrors, CalibrationFactors, CalibrationPlanRecord, CalibrationRecord } from './calibration.ts';

const REMAKE = 're-create it with `uniap profile --model ... --cluster ...` or plan without --profile';

/** Validate parsed JSON as a Profile; `file` names it in error messages. */
export function parseProfile(json: unknown, file: string): Profile {
  const r = JsonReader.root(file, json);
  const version = r.number('schemaVersion', { integer: true });
  if (version !== PROFILE_SCHEMA_VERSION) {
    r.fail(`profile schema version ${version} is not supported (this uniap reads version ${PROFILE_SCHEMA_VERSION})`, REMAKE, '$.schemaVersion');
  }
  const provenance = readProvenance(r.child('provenance'));

  const d = r.child('device');
  const device = {
    name: d.string('name'),
    capacityBytes: d.number('capacityBytes', { positive: true }),
    reservedBytes: d.number('reservedBytes', { min: 0 }),
  };
  if (device.reservedBytes >= device.capacityBytes) {
    d.fail(
      `reservedBytes ${device.reservedBytes} leaves nothing of capacityBytes ${device.capacityBytes}`,
      'make reservedBytes smaller than capacityBytes',
      `${d.path}.reservedBytes`,
    );
  }
  d.done();

  let cluster: Profile['cluster'];
  const c = r.optChild('cluster');
  if (c) {
    cluster = {
      name: c.string('name'),
      nodes: c.number('nodes', { integer: true, min: 1 }),
      devicesPerNode: c.number('devicesPerNode', { integer: true, min: 1 }),
    };
    c.done();
  }

  const overlapSlowdown = r.number('overlapSlowdown', { min: 0 });
  const optimizerBandwidthGBps = r.optNumber('optimizerBandwidthGBps', { min: 0 });
  const attention = r.optString('attention', { oneOf: ['flash', 'eager'] }) as Profile['attention'];
  const allToAll = r.optString('allToAll', { oneOf: ['native', 'all-gather'] }) as Profile['allToAll'];

  const layers: LayerProfileEntry[] = [];
  const seenLayers = new Set<string>();
  for (const e of r.array('layers')) {
    const entry = readLayerEntry(e);
    const key = `${entry.shapeKey}|${entry.microBatch}|${entry.tp}`;
    if (seenLayers.has(key)) {
      e.fail(`a second entry for shape ${entry.shapeKey} at micro-batch ${entry.microBatch}, tp ${entry.tp}`, 'keep one entry per (shapeKey, microBatch, tp)');
    }
    seenLayers.add(key);
    layers.push(entry);
  }

  const links: LinkProfileEntry[] = [];
  const seenLinks = new Set<string>();
  for (const e of r.array('links')) {
    const entry = readLinkEntry(e);
    const key = `${entry.collective}|${entry.groupSize}|${entry.nodes}`;
    if (seenLinks.has(key)) {
      e.fail(`a second ${entry.collective} entry for ${entry.groupSize} ranks on ${entry.nodes} nodes`, 'keep one entry per (collective, groupSize, nodes)');
    }
    seenLinks.add(key);
    links.push(entry);
  }
  r.done();

  const profile: Profile = { schemaVersion: PROFILE_SCHEMA_VERSION, provenance, device, overlapSlowdown, layers, links };
  if (cluster) profile.cluster = cluster;
  if (optimizerBandwidthGBps !== undefined) profile.optimizerBandwidthGBps = optimizerBandwidthGBps;
  if (attention !== undefined) profile.attention = attention;
  if (allToAll !== undefined) profile.allToAll = allToAll;
  return profile;
}

function readProvenance(p: JsonReader): Provenance {
  const kind = p.string('kind', { oneOf: ['measured', 'derived', 'imported'] }) as Provenance['kind'];
  const device = p.string('device');
  const date = p.string('date');
  if (Number.isNaN(Date.parse(date))) p.fail(`"${date}" is not a date`, 'write an ISO date-time such as 2025-01-31T12:00:00Z', `${p.path}.date`);
  const tool = p.string('tool');
  const out: Provenance = { kind, device, date, tool };
  const versions = p.optChild('versions');
  if (versions) out.versions = Object.fromEntries(versions.asEntries().map(([k, v]) => [k, v.asString()]));
  const notes = p.optArray('notes');
  if (notes) out.notes = notes.map((n) => n.asString());
  const calibration = p.optChild('calibration');
  if (calibration) out.calibration = readCalibration(calibration);
  p.done();
  return out;
}

function readCalibration(c: JsonReader): CalibrationRecord {
  const f = c.child('factors');
  const factors: CalibrationFactors = {
    computeScale: f.number('computeScale', { positive: true }),
    layerOverheadMs: f.number('layerOverheadMs', { min: 0 }),
    collectiveScale: f.number('collectiveScale', { positive: true }),
    latencyScale: f.number('latencyScale', { positive: true }),
    p2pScale: f.number('p2pScale', { positive: true }),
    overlapSlowdown: f.number('overlapSlowdown', { min: 0 }),
    optimizerScale: f.number('optimizerScale', { positive: true }),
    reservedBytes: f.number('reservedBytes', { min: 0 }),
  };
  f.done();
  const plans: CalibrationPlanRecord[] = c.array('plans').map((e) => {
    const r: CalibrationPlanRecord = {
      name: e.string('name'),
      role: e.string('role', { oneOf: ['fit', 'held-out'] }) as CalibrationPlanRecord['role'],
      measuredMs: e.number('measuredMs', { min: 0 }),
      predictedBeforeMs: e.number('predictedBeforeMs', { min: 0 }),
      predictedAfterMs: e.number('predictedAfterMs', { min: 0 }),
      measuredMemoryBytes: e.number('measuredMemoryBytes', { min: 0 }),
      predictedMemoryBeforeBytes: e.number('predictedMemoryBeforeBytes', { min: 0 }),
      predictedMemoryAfterBytes: e.number('predictedMemoryAfterBytes', { min: 0 }),
    };
    e.done();
    return r;
  });
  const h = c.child('heldOut');
  const errors = (r: JsonReader): CalibrationErrors => {
    const out: CalibrationErrors = { timeMape: r.number('timeMape', { min: 0 }), memoryMape: r.number('memoryMape', { min: 0 }) };
    const tau = r.optNumber('kendallTau', { min: -1 });
    if (tau !== undefined) out.kendallTau = tau;
    r.done();
    return out;
  };
  const heldOut = { before: errors(h.child('before')), after: errors(h.child('after')) };
  h.done();
  const out: CalibrationRecord = {
    date: c.string('date'),
    tool: c.string('tool'),
    base: c.string('base'),
    timedSteps: c.number('timedSteps', { integer: true, min: 1 }),
    factors,
    plans,
    heldOut,
  };
  c.done();
  return out;
}

function readLayerEntry(e: JsonReader): LayerProfileEntry {
  const entry: LayerProfileEntry = {
    shapeKey: e.string('shapeKey'),
    microBatch: e.number('microBatch', { positive: true }),
    tp: e.number('tp', { integer: true, min: 1 }),
    forwardMs: e.number('forwardMs', { min: 0 }),
    backwardMs: e.number('backwardMs', { min: 0 }),
    tpCommunication: e.string('tpCommunication', { oneOf: ['included', 'excluded'] }) as LayerProfileEntry['tpCommunication'],
    activationBytes: e.number('activationBytes', { min: 0 }),
    workingSetBytes: e.number('workingSetBytes', { min: 0 }),
    parameterBytes: e.number('parameterBytes', { min: 0 }),
  };
  const spread = e.optNumber('spread', { min: 0 });
  if (spread !== undefined) entry.spread = spread;
  const flags = e.optArray('flags');
  if (flags) entry.flags = flags.map((f) => f.asString());
  e.done();
  return entry;
}

function readLinkEntry(e: JsonReader): LinkProfileEntry {
  const collective = e.string('collective', { oneOf: COLLECTIVES }) as Collective;
  const groupSize = e.number('groupSize', { integer: true, min: 2 });
  if (collective === 'p2p' && groupSize !== 2) {
    e.fail(`a p2p entry has groupSize ${groupSize}`, 'use groupSize 2 for p2p (one sender, one receiver)', `${e.path}.groupSize`);
  }
  const nodes = e.number('nodes', { integer: true, min: 1, max: groupSize });
  const latencyMs = e.number('latencyMs', { min: 0 });
  const busBandwidthGBps = e.number('busBandwidthGBps', { positive: true });
  e.done();
  return { collective, groupSize, nodes, latencyMs, busBandwidthGBps };
}

/** Read and validate a profile file. */
export function loadProfile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UniapError(
      'FILE_NOT_FOUND',
      code === 'ENOENT'
        ? `profile file ${path} not found; check the path, create one with \`uniap profile\`, or plan without --profile`
        : `cannot read profile file ${path} (${code ?? 'error'}); give a path to a profile JSON file`,
      { path },
    );
  }
  return parseProfile(parseJsonText(text, path), path);
}

/** Write a profile as pretty JSON (creating the directory). */
export function saveProfile(p: Profile, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(p, null, 2)}\n`);
}

/**
 * Identity of a profile's numbers: sha256 of its canonical JSON (sorted keys) without
 * provenance.date, so re-deriving the same profile on another day keeps the fingerprint. 16 hex.
 */
export function profileFingerprint(p: Profile): string {
  const { date: _date, ...provenance } = p.provenance;
  return fingerprint({ ...p, provenance });
}

