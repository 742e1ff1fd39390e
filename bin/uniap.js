#!/usr/bin/env node
// Entry point of the `uniap` command: runs the TypeScript CLI through tsx, so `npx uniap` works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
