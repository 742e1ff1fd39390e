// Cluster presets, local-cpu, file loading, fingerprints and the preset listing.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { totalDevices } from './cluster-spec.ts';
import {
  clusterFingerprint,
  clusterPresetNames,
  CPU_GFLOPS32_PER_LOGICAL_CPU,
  listClusterPresets,
  loadCluster,
} from './cluster-presets.ts';
import { UniapError } from '../common/errors.ts';

const PRESETS = [
  'a100-80gb-1x8',
  'h100-128x8',
  'h100-1x8',
  'h100-4x8',
  'h100-64x8',
  'h200-1x8',
  'paper-a100-1x8',
  'paper-titanxp-2x4',
  'paper-v100-1x8',
  'local-cpu',
];

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UniapError);
    expect((e as Error).message).not.toContain('\n');
    return (e as UniapError).code;
  }
  throw new Error('expected a UniapError');
}

describe('cluster presets', () => {
  it('every preset resolves under its own name', () => {
    expect(clusterPresetNames().sort()).toEqual([...PRESETS].sort());
    for (const name of PRESETS) {
      const c = loadCluster(name);
      expect(c.name).toBe(name);
      expect(c.source).toBe(name);
      expect(c.interNodeLink === null).toBe(c.nodes.length === 1);
    }
  });

  it("has the UniAP paper's environments", () => {
    const v100 = loadCluster('paper-v100-1x8');
    expect(totalDevices(v100)).toBe(8);
    expect(v100.nodes[0]!.deviceType.name).toBe('V100-32GB-SXM2');
    expect(v100.nodes[0]!.intraNodeLink).toMatchObject({ kind: 'nvlink', bandwidthGBps: 150 });

    const titan = loadCluster('paper-titanxp-2x4');
    expect(titan.nodes.map((n) => n.devices)).toEqual([4, 4]);
    expect(titan.nodes[0]!.deviceType.name).toBe('TITAN-Xp');
    expect(titan.nodes[0]!.intraNodeLink).toMatchObject({ kind: 'pcie', bandwidthGBps: 12 });
    expect(titan.interNodeLink).toMatchObject({ kind: 'ethernet', bandwidthGBps: 1.25 }); // 10 Gbps

    expect(loadCluster('paper-a100-1x8').nodes[0]!.intraNodeLink.bandwidthGBps).toBe(300);
  });

  it('has the current GPU clusters with 8 NDR ports per multi-node H100 node', () => {
    expect(loadCluster('h100-1x8').nodes[0]!.intraNodeLink.bandwidthGBps).toBe(450);
    expect(loadCluster('h200-1x8').nodes[0]!.deviceType.name).toBe('H200-SXM');
    expect(loadCluster('a100-80gb-1x8').nodes[0]!.deviceType.name).toBe('A100-80GB-SXM');
    for (const [name, nodes] of [['h100-4x8', 4], ['h100-64x8', 64], ['h100-128x8', 128]] as const) {
      const c = loadCluster(name);
      expect(c.nodes).toHaveLength(nodes);
      expect(totalDevices(c)).toBe(nodes * 8);
      expect(c.interNodeLink).toMatchObject({ kind: 'infiniband', bandwidthGBps: 8 * 50 });
    }
  });

  it('local-cpu is N Gloo processes sized from this machine', () => {
    const two = loadCluster('local-cpu');
    expect(totalDevices(two)).toBe(2);
    expect(two.backend).toBe('gloo');
    const three = loadCluster('local-cpu:3');
    expect(three.nodes).toHaveLength(1);
    expect(three.nodes[0]!.devices).toBe(3);
    const d = three.nodes[0]!.deviceType;
    expect(d.kind).toBe('cpu');
    expect(Math.abs(d.memoryBytes - os.totalmem() / 3)).toBeLessThan(2);
    expect(d.peakTflops32).toBeCloseTo((os.cpus().length / 3) * CPU_GFLOPS32_PER_LOGICAL_CPU / 1000, 12);
    expect(three.nodes[0]!.intraNodeLink.kind).toBe('shared-memory');
    expect(codeOf(() => loadCluster('local-cpu:0'))).toBe('UNKNOWN_PRESET');
    expect(codeOf(() => loadCluster('local-cpu:two'))).toBe('UNKNOWN_PRESET');
  });

  it('reports unknown presets with the list, missing files and bad JSON', () => {
    try {
      loadCluster('dgx-a100');
      throw new Error('no error');
    } catch (e) {
      expect((e as UniapError).code).toBe('UNKNOWN_PRESET');
      expect((e as Error).message).toContain('unknown cluster preset "dgx-a100"; use one of: a100-80gb-1x8');
      expect((e as Error).message).toContain('local-cpu');
    }
    expect(codeOf(() => loadCluster('/no/such/dir/cluster.json'))).toBe('FILE_NOT_FOUND');
    const dir = mkdtempSync(join(os.tmpdir(), 'uniap-cluster-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "name": ');
    expect(codeOf(() => loadCluster(bad))).toBe('CONFIG_INVALID');
  });

  it('loads a cluster file by path; the fingerprint ignores name and source', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'uniap-cluster-'));
    const file = join(dir, 'copy.json');
    const preset = JSON.parse(readFileSync(new URL('./clusters/h100-4x8.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...preset, name: 'my-h100s' }));
    const copy = loadCluster(file);
    expect(copy.name).toBe('my-h100s');
    expect(copy.source).toBe(file);
    const fp = clusterFingerprint(loadCluster('h100-4x8'));
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(clusterFingerprint(copy)).toBe(fp);
    expect(clusterFingerprint(loadCluster('h100-64x8'))).not.toBe(fp);
    expect(clusterFingerprint(loadCluster('h100-1x8'))).not.toBe(clusterFingerprint(loadCluster('h200-1x8')));
  });

  it('lists presets with their key numbers', () => {
    const list = listClusterPresets();
    expect(list.map((p) => p.name).sort()).toEqual([...PRESETS].sort());
    const h = list.find((p) => p.name === 'h100-4x8')!;
    expect(h).toMatchObject({ nodes: 4, devicesPerNode: 8, devices: 32, device: 'H100-SXM', memoryGiB: 80, peakTflops: 989, peakPrecision: '16-bit' });
    expect(h.interNodeLink).toEqual({ kind: 'infiniband', bandwidthGBps: 400, latencyUs: 4 });
    const t = list.find((p) => p.name === 'paper-titanxp-2x4')!;
    expect(t).toMatchObject({ peakTflops: 12.1, peakPrecision: 'fp32' });
    expect(t.description).toContain('2307.16375');
    expect(list.find((p) => p.name === 'h100-1x8')!.interNodeLink).toBeNull();
  });
});
