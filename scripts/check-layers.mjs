#!/usr/bin/env node
// The layering check (docs/design.md, "Rooms"): every import in src/ must point to the same room
// or to a room on a lower floor, and a few arrows that the floors alone would allow are refused:
// the kubelet, the scheduler and the controllers are API clients and never reach the API
// server, the registry or the store; the client room reaches the registry only through
// src/client/local.ts, the in-process bridge. Tests (*.test.ts, *.test-util.ts) compose rooms
// freely and are not checked.
//
//   node scripts/check-layers.mjs [ROOT]      exit 0 when clean, 1 listing each bad import
//
// Source imports are read (static `import`/`export ... from`, `import type`, and `import()`),
// so the check needs no build and no dependency.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** floor of each room (a folder under src/, or a file at its top); higher floors may import lower ones */
export const FLOORS = {
  // below every floor: loads packages on first use, imports nothing of podbay's
  'lazy-module': -1,
  sys: 0,
  version: 0,
  api: 0,
  store: 0,
  ui: 0,
  registry: 1,
  image: 1,
  network: 1,
  explain: 1,
  client: 2,
  runtime: 2,
  apiserver: 2,
  kubelet: 3,
  scheduler: 4,
  controllers: 4,
  proxy: 4,
  netpolicy: 4,
  dns: 4,
  ingress: 4,
  cli: 5,
};

/** arrows refused whatever the floors say: [from room, to room, why] */
export const FORBIDDEN = [
  ['kubelet', 'apiserver', 'the kubelet is an API client: use src/client'],
  ['kubelet', 'registry', 'the kubelet is an API client: use src/client'],
  ['kubelet', 'store', 'the kubelet is an API client: use src/client'],
  ['scheduler', 'apiserver', 'the scheduler is an API client: use src/client'],
  ['scheduler', 'registry', 'the scheduler is an API client: use src/client'],
  ['scheduler', 'store', 'the scheduler is an API client: use src/client'],
  ['controllers', 'apiserver', 'controllers are API clients: use src/client'],
  ['controllers', 'registry', 'controllers are API clients: use src/client'],
  ['controllers', 'store', 'controllers are API clients: use src/client'],
  ['proxy', 'apiserver', 'the service proxy is an API client: use src/client'],
  ['proxy', 'registry', 'the service proxy is an API client: use src/client'],
  ['proxy', 'store', 'the service proxy is an API client: use src/client'],
  ['netpolicy', 'apiserver', 'the network policy enforcer is an API client: use src/client'],
  ['netpolicy', 'registry', 'the network policy enforcer is an API client: use src/client'],
  ['netpolicy', 'store', 'the network policy enforcer is an API client: use src/client'],
  ['dns', 'apiserver', 'the cluster DNS is an API client: use src/client'],
  ['dns', 'registry', 'the cluster DNS is an API client: use src/client'],
  ['dns', 'store', 'the cluster DNS is an API client: use src/client'],
  ['ingress', 'apiserver', 'the ingress controller is an API client: use src/client'],
  ['ingress', 'registry', 'the ingress controller is an API client: use src/client'],
  ['ingress', 'store', 'the ingress controller is an API client: use src/client'],
  ['client', 'store', 'a client talks to the API, not to the store'],
  ['client', 'registry', 'only src/client/local.ts, the in-process bridge, may import the registry'],
];

/** the one file of a room allowed an arrow the rules above refuse */
export const BRIDGES = [['src/client/local.ts', 'registry']];

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'generated' && name !== 'node_modules') out.push(...sourceFiles(p));
    } else if (/\.(ts|mts)$/.test(name) && !/\.d\.ts$/.test(name) && !/\.test(-util)?\.ts$/.test(name)) {
      out.push(p);
    }
  }
  return out;
}

/** the module specifiers a file imports */
export function importsOf(text) {
  // comments out first, so an example in a comment is not an import
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (let m; (m = re.exec(code)); ) specs.push(m[1] ?? m[2] ?? m[3]);
  return specs;
}

/** the room of a path relative to the root (src/kubelet/x.ts -> kubelet; src/version.ts -> version) */
export function roomOf(rel) {
  const parts = rel.split(sep).join('/').split('/');
  if (parts[0] !== 'src') return undefined;
  return parts.length === 2 ? parts[1].replace(/\.(ts|mts|js)$/, '') : parts[1];
}

export function checkLayers(root) {
  const problems = [];
  const src = join(root, 'src');
  for (const file of sourceFiles(src)) {
    const rel = relative(root, file).split(sep).join('/');
    const from = roomOf(rel);
    if (!(from in FLOORS)) {
      problems.push(`${rel}: room "${from}" has no floor: add it to FLOORS in scripts/check-layers.mjs and to the Rooms table in docs/design.md`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // a package or node: builtin
      const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/');
      const to = roomOf(target);
      if (to === undefined || to === from) continue;
      if (!(to in FLOORS)) {
        problems.push(`${rel}: imports ${spec} of room "${to}", which has no floor`);
        continue;
      }
      const bridged = BRIDGES.some(([f, r]) => f === rel && r === to);
      const banned = FORBIDDEN.find(([f, t]) => f === from && t === to);
      if (banned && !bridged) {
        problems.push(`${rel}: imports ${spec}: ${from} may not import ${to} (${banned[2]})`);
      } else if (FLOORS[to] >= FLOORS[from] && !bridged) {
        problems.push(`${rel}: imports ${spec}: ${from} (floor ${FLOORS[from]}) may import only rooms below it, not ${to} (floor ${FLOORS[to]})`);
      }
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-layers.mjs')) {
  const root = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..'));
  const problems = checkLayers(root);
  if (problems.length) {
    process.stderr.write(`check-layers: ${problems.length} import(s) break the layering of docs/design.md:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write('check-layers: every import points down\n');
}
