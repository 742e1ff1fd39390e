// resolveCluster: defaults, device lookup, and one-line validation errors (file, JSON path, fix).
import { describe, expect, it } from 'vitest';
import { builtinDeviceTypes, resolveCluster } from './cluster-resolve.ts';
import { ConfigError } from '../common/errors.ts';

const FILE = 'my-cluster.json';

function base(): Record<string, unknown> {
  return {
    name: 'two-nodes',
    nodes: [{ count: 2, deviceType: 'A100-80GB-SXM', devices: 8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 300 } }],
    interNodeLink: { kind: 'infiniband', bandwidthGBps: 200, latencyUs: 5 },
  };
}

/** Resolve and return the ConfigError it throws (fails the test if none). */
function errorOf(config: unknown): ConfigError {
  try {
    resolveCluster(config, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const err = e as ConfigError;
    expect(err.message).not.toContain('\n');
    expect(err.message.startsWith(`${FILE}: at $`)).toBe(true);
    expect(err.code).toBe('CONFIG_INVALID');
    return err;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveCluster', () => {
  it('expands node groups, looks up device types and fills defaults', () => {
    const c = resolveCluster(base(), FILE);
    expect(c.nodes).toHaveLength(2);
    expect(c.nodes.map((n) => n.index)).toEqual([0, 1]);
    expect(c.nodes[1]!.deviceType).toMatchObject({ name: 'A100-80GB-SXM', kind: 'gpu', memoryBytes: 80 * 2 ** 30, peakTflops16: 312 });
    // Latency left out: the NVLink default from NCCL's tuning model.
    expect(c.nodes[0]!.intraNodeLink).toEqual({ kind: 'nvswitch', bandwidthGBps: 300, latencyUs: 1.9 });
    expect(c.interNodeLink).toEqual({ kind: 'infiniband', bandwidthGBps: 200, latencyUs: 5 });
    expect(c.backend).toBe('nccl');
    expect(c.source).toBe(FILE);
  });

  it("uses the file's own device types, which shadow built-in names", () => {
    const c = resolveCluster(
      {
        name: 'cpus',
        deviceTypes: { cpu: { kind: 'cpu', memoryGiB: 1.5, peakTflops32: 0.1, memoryBandwidthGBps: 10 } },
        nodes: [{ deviceType: 'cpu', devices: 4, intraNodeLink: { kind: 'shared-memory', bandwidthGBps: 2 } }],
      },
      FILE,
    );
    expect(c.nodes[0]!.deviceType).toEqual({
      name: 'cpu',
      kind: 'cpu',
      memoryBytes: 1.5 * 2 ** 30,
      peakTflops16: 0,
      peakTflops32: 0.1,
      memoryBandwidthGBps: 10,
    });
    expect(c.backend).toBe('gloo');
    expect(c.interNodeLink).toBeNull();
  });

  it('expresses heterogeneous clusters', () => {
    const c = resolveCluster(
      {
        name: 'mixed',
        nodes: [
          { deviceType: 'H100-SXM', devices: 8, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 450 } },
          { deviceType: 'A100-40GB-SXM', devices: 4, intraNodeLink: { kind: 'nvswitch', bandwidthGBps: 300 } },
        ],
        interNodeLink: { kind: 'roce', bandwidthGBps: 100 },
      },
      FILE,
    );
    expect(c.nodes.map((n) => `${n.devices}x${n.deviceType.name}`)).toEqual(['8xH100-SXM', '4xA100-40GB-SXM']);
  });

  it('rejects a wrong type with path and fix', () => {
    const cfg = base();
    (cfg.nodes as Record<string, unknown>[])[0]!.devices = '8';
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.nodes[0].devices');
    expect(e.message).toBe(`${FILE}: at $.nodes[0].devices: expected a number, got the string "8"; write a finite number`);
  });

  it('rejects a missing field', () => {
    const cfg = base();
    delete (cfg.nodes as Record<string, unknown>[])[0]!.deviceType;
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.nodes[0].deviceType');
    expect(e.message).toContain('missing field "deviceType"; add "deviceType"');
  });

  it('rejects a negative size', () => {
    const cfg = base();
    (cfg.interNodeLink as Record<string, unknown>).bandwidthGBps = -25;
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.interNodeLink.bandwidthGBps');
    expect(e.message).toContain('-25 must be positive; use a value > 0');
  });

  it('rejects an unknown key and lists the known ones', () => {
    const cfg = base();
    (cfg.nodes as Record<string, unknown>[])[0]!.gpus = 8;
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.nodes[0].gpus');
    expect(e.message).toContain('unknown key "gpus"; remove it or use one of: count, deviceType, devices, intraNodeLink');
  });

  it('rejects an unknown device type and names the known ones', () => {
    const cfg = base();
    (cfg.nodes as Record<string, unknown>[])[0]!.deviceType = 'H100';
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.nodes[0].deviceType');
    expect(e.message).toContain('unknown device type "H100"; use one of:');
    for (const name of ['TITAN-Xp', 'V100-32GB-SXM2', 'A100-80GB-SXM', 'H100-SXM', 'H200-SXM', 'cpu']) expect(e.message).toContain(name);
  });

  it('rejects a link kind in the wrong place', () => {
    const cfg = base();
    (cfg.interNodeLink as Record<string, unknown>).kind = 'nvlink';
    expect(errorOf(cfg).message).toContain('"nvlink" is not allowed; use one of: infiniband, ethernet, roce');
  });

  it('requires interNodeLink iff there is more than one node', () => {
    const cfg = base();
    delete cfg.interNodeLink;
    const e = errorOf(cfg);
    expect(e.jsonPath).toBe('$.interNodeLink');
    expect(e.message).toContain('cluster of 2 nodes');
    const single = base();
    (single.nodes as Record<string, unknown>[])[0]!.count = 1;
    expect(errorOf(single).message).toContain('a single-node cluster has no inter-node link');
  });

  it('checks backend against device kind and the schema version', () => {
    const cpu = {
      name: 'c',
      nodes: [{ deviceType: 'cpu', devices: 2, intraNodeLink: { kind: 'shared-memory', bandwidthGBps: 2 } }],
      backend: 'nccl',
    };
    expect(errorOf(cpu).jsonPath).toBe('$.backend');
    const v2 = { ...base(), schemaVersion: 2 };
    expect(errorOf(v2).message).toContain('cluster schema version 2 is not supported; set "schemaVersion" to 1');
    expect(errorOf({ ...base(), nodes: [] }).message).toContain('expected at least 1 entries');
    expect(errorOf('not an object').message).toContain('expected an object');
  });

  it('rejects bad device type definitions at their path', () => {
    const cfg = {
      ...base(),
      deviceTypes: { mine: { memoryGiB: 0, peakTflops32: 10, memoryBandwidthGBps: 100 } },
    };
    expect(errorOf(cfg).jsonPath).toBe('$.deviceTypes.mine.memoryGiB');
  });
});

describe('built-in device catalog (configs/devices.json)', () => {
  it('holds the NVIDIA datasheet numbers', () => {
    const t = builtinDeviceTypes();
    expect([...t.keys()].sort()).toEqual(
      ['A100-40GB-SXM', 'A100-80GB-SXM', 'H100-SXM', 'H200-SXM', 'TITAN-Xp', 'V100-16GB-SXM2', 'V100-32GB-SXM2', 'cpu'].sort(),
    );
    expect(t.get('TITAN-Xp')).toMatchObject({ peakTflops16: 0, peakTflops32: 12.1, memoryBandwidthGBps: 548, memoryBytes: 12 * 2 ** 30 });
    expect(t.get('V100-16GB-SXM2')).toMatchObject({ peakTflops16: 125, peakTflops32: 15.7, memoryBandwidthGBps: 900 });
    expect(t.get('A100-40GB-SXM')).toMatchObject({ peakTflops16: 312, memoryBandwidthGBps: 1555, memoryBytes: 40 * 2 ** 30 });
    expect(t.get('H100-SXM')).toMatchObject({ peakTflops16: 989, peakTflops32: 66.9, memoryBandwidthGBps: 3350 });
    expect(t.get('H200-SXM')).toMatchObject({ peakTflops16: 989, memoryBandwidthGBps: 4800 });
    expect(t.get('cpu')!.kind).toBe('cpu');
  });
});
