// parseProfile / loadProfile / saveProfile / profileFingerprint on a hand-written profile.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, UniapError } from '../common/errors.ts';
import type { Profile } from './profile.ts';
import { loadProfile, parseProfile, profileFingerprint, saveProfile } from './profile-io.ts';

function sampleProfile(): Profile {
  return {
    schemaVersion: 1,
    provenance: { kind: 'measured', device: 'H100-SXM', date: '2025-01-31T12:00:00.000Z', tool: 'test', versions: { torch: '2.5' }, notes: ['n'] },
    device: { name: 'H100-SXM', capacityBytes: 80 * 2 ** 30, reservedBytes: 2 ** 30 },
    cluster: { name: 'h100-1x8', nodes: 1, devicesPerNode: 8 },
    overlapSlowdown: 0.1,
    layers: [
      { shapeKey: 'dec', microBatch: 1, tp: 1, forwardMs: 1, backwardMs: 2, tpCommunication: 'excluded', activationBytes: 100, workingSetBytes: 150, parameterBytes: 1000 },
      { shapeKey: 'dec', microBatch: 2, tp: 1, forwardMs: 1.8, backwardMs: 3.6, tpCommunication: 'excluded', activationBytes: 200, workingSetBytes: 250, parameterBytes: 1000, spread: 0.02, flags: ['noisy'] },
    ],
    links: [{ collective: 'all-reduce', groupSize: 8, nodes: 1, latencyMs: 0.03, busBandwidthGBps: 369 }],
  };
}

function errorOf(json: unknown): ConfigError {
  try {
    parseProfile(json, 'p.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).not.toContain('\n');
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseProfile', () => {
  it('accepts a valid profile unchanged', () => {
    const p = sampleProfile();
    expect(parseProfile(JSON.parse(JSON.stringify(p)), 'p.json')).toEqual(p);
    const { cluster: _c, ...noCluster } = p;
    expect(parseProfile(noCluster, 'p.json').cluster).toBeUndefined();
  });

  it('checks the schema version with a fix', () => {
    const e = errorOf({ ...sampleProfile(), schemaVersion: 7 });
    expect(e.jsonPath).toBe('$.schemaVersion');
    expect(e.message).toContain('profile schema version 7 is not supported (this uniap reads version 1)');
    expect(e.message).toContain('uniap profile');
  });

  it('rejects unknown keys, bad values and duplicates at their path', () => {
    const p = sampleProfile() as unknown as Record<string, any>;
    p.layers[1].forwardMS = 3;
    expect(errorOf(p).jsonPath).toBe('$.layers[1].forwardMS');

    const q = sampleProfile() as unknown as Record<string, any>;
    q.links[0].collective = 'broadcast';
    expect(errorOf(q).message).toContain('"broadcast" is not allowed; use one of: all-reduce, all-gather, reduce-scatter, p2p');

    const r = sampleProfile() as unknown as Record<string, any>;
    r.layers[0].activationBytes = -1;
    expect(errorOf(r).jsonPath).toBe('$.layers[0].activationBytes');

    const s = sampleProfile();
    s.layers.push({ ...s.layers[0]! });
    expect(errorOf(s).message).toContain('a second entry for shape dec at micro-batch 1, tp 1');

    const t = sampleProfile();
    t.links.push({ collective: 'p2p', groupSize: 4, nodes: 1, latencyMs: 0, busBandwidthGBps: 1 });
    expect(errorOf(t).jsonPath).toBe('$.links[1].groupSize');

    const u = sampleProfile();
    u.device.reservedBytes = u.device.capacityBytes;
    expect(errorOf(u).jsonPath).toBe('$.device.reservedBytes');

    const v = sampleProfile();
    v.provenance.date = 'yesterday';
    expect(errorOf(v).jsonPath).toBe('$.provenance.date');

    const w = sampleProfile() as unknown as Record<string, any>;
    delete w.links;
    expect(errorOf(w).message).toContain('missing field "links"');
  });
});

describe('profile files', () => {
  it('saves and loads a profile (round trip)', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'uniap-profile-'));
    const path = join(dir, 'nested', 'p.json');
    saveProfile(sampleProfile(), path);
    expect(loadProfile(path)).toEqual(sampleProfile());
  });

  it('reports a missing file and invalid JSON', () => {
    try {
      loadProfile('/no/such/profile.json');
      throw new Error('no error');
    } catch (e) {
      expect((e as UniapError).code).toBe('FILE_NOT_FOUND');
      expect((e as Error).message).toContain('profile file /no/such/profile.json not found');
    }
    const dir = mkdtempSync(join(os.tmpdir(), 'uniap-profile-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[1,');
    expect(() => loadProfile(bad)).toThrow(ConfigError);
  });

  it('fingerprints the numbers, not the date or key order', () => {
    const p = sampleProfile();
    const fp = profileFingerprint(p);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(profileFingerprint({ ...p, provenance: { ...p.provenance, date: '2030-01-01T00:00:00.000Z' } })).toBe(fp);
    const reordered = Object.fromEntries(Object.entries(p).reverse()) as unknown as Profile;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(p));
    expect(profileFingerprint(reordered)).toBe(fp);
    const changed = sampleProfile();
    changed.layers[0]!.forwardMs = 1.01;
    expect(profileFingerprint(changed)).not.toBe(fp);
  });
});
