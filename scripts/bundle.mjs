#!/usr/bin/env node
// Bundles the CLI (dist/src/cli/main.js, built by tsc) into dist/bundle/: podbay's own ~180
// modules become a few files, so a start compiles and links a few files instead of resolving,
// reading and compiling each module (cold start: docs/performance.md). Packages stay external
// (loaded from node_modules as they are, several only on first use: src/lazy-module.ts), and
// dynamic imports stay separate chunks (an API-only server never loads the node's rooms:
// src/cli/node-parts.ts). Source maps chain back to the .ts files through tsc's maps.
// bin/podbay runs the bundle when it is there; tests and benches that import dist/src use the
// unbundled modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const t0 = Date.now();
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(root, 'dist', 'src', 'cli', 'main.js'), 'spawner-child': join(root, 'dist', 'src', 'sys', 'spawner-child.js'), 'pki-worker': join(root, 'dist', 'src', 'apiserver', 'pki-worker.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundle: ${Object.keys(result.metafile.inputs).length} modules -> ${outputs.length} files in dist/bundle (${(bytes / 1024).toFixed(0)} KiB, ${Date.now() - t0} ms)`);
