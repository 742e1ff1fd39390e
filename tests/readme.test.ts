// The README's promises stay true: CI runs exactly the README's test command, and the main-job
// command names presets that exist.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

describe('README', () => {
  it('has the two set-up commands: the main job, then the tests', () => {
    expect(blocks[0]).toMatch(/^npm ci && npx uniap plan /);
    expect(blocks[1]).toMatch(/&& npm test$/);
  });
  it('CI runs exactly the README test command', () => {
    const ci = readFileSync(resolve(root, '.ci/run'), 'utf8');
    const lines = ci.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines).toContain(blocks[1]);
  });
});
