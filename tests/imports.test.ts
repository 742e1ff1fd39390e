// Imports flow one way: common <- configs <- profiler <- planner <- runtime <- cli. Each layer may
// import only from the layers to its left; common/ (errors, JSON files, fingerprints, ports, child
// processes, executor events) is the floor and imports none of the others.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';

const root = resolve(import.meta.dirname, '..');
const order = ['common', 'configs', 'profiler', 'planner', 'runtime', 'cli'] as const;
type Layer = (typeof order)[number];

function layerOf(file: string): Layer | undefined {
  const rel = relative(root, file);
  if (rel === 'cli.ts') return 'cli';
  const top = rel.split('/')[0];
  return (order as readonly string[]).includes(top!) ? (top as Layer) : undefined;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

describe('import direction', () => {
  it('no layer imports from a layer to its right', () => {
    const bad: string[] = [];
    for (const top of order) {
      for (const file of tsFiles(join(root, top))) {
        const from = layerOf(file)!;
        const src = readFileSync(file, 'utf8');
        for (const m of src.matchAll(/from\s+['"](\.[^'"]+)['"]/g)) {
          const target = layerOf(resolve(dirname(file), m[1]!));
          if (target && order.indexOf(target) > order.indexOf(from)) bad.push(`${relative(root, file)} imports ${m[1]} (${target})`);
        }
        if (from === 'planner' && /runtime\/control\/generated/.test(src)) bad.push(`${relative(root, file)} imports generated protos`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('the repository stands alone', () => {
  it('no source file outside docs/ cites notes that are not in the repository', () => {
    // Built from pieces so that this file does not match itself.
    const banned = new RegExp(['REFERENCE' + '\\.md', 'STYLE' + '\\.md', '\\.\\./' + 'shared/', '/work/' + 'shared', '\\bshared/' + 'data\\b'].join('|'));
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && !f.startsWith('docs/') && !f.startsWith('node_modules/') && /\.(ts|js|py|md|json|toml|sh|proto)$/.test(f));
    const bad: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(join(root, f), 'utf8');
      } catch {
        continue; // listed but deleted in the work tree
      }
      text.split('\n').forEach((line, i) => {
        if (banned.test(line)) bad.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(bad).toEqual([]);
  });
});
