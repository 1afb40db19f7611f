/**
 * scripts/check-layers.mjs, the layering check the test command runs: clean on this tree, and
 * it fails, naming the file and the rule, on a temp tree with a bad import.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/src/layers.test.js -> the project root
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'check-layers.mjs');

function check(root: string): { code: number; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** a throwaway tree: path -> source */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'podbay-layers-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const CLEAN = {
  'src/api/types.ts': 'export type Obj = Record<string, any>;\n',
  'src/registry/index.ts': "import type { Obj } from '../api/types.js';\nexport class Registry {}\n",
  'src/client/types.ts': "import type { Obj } from '../api/types.js';\nexport interface Client { x?: Obj }\n",
  'src/client/local.ts': "import type { Registry } from '../registry/index.js';\nexport type R = Registry;\n",
  'src/kubelet/kubelet.ts': "import type { Client } from '../client/types.js';\nexport type C = Client;\n",
};

describe('layering check', () => {
  it('passes on this tree', () => {
    const r = check(ROOT);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /every import points down/);
  });

  it('passes a tree whose imports point down, with the client bridge to the registry', () => {
    const root = tree(CLEAN);
    try {
      const r = check(root);
      assert.equal(r.code, 0, r.out);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails on the kubelet importing the registry, a client file other than local.ts doing so, and an upward import', () => {
    const root = tree({
      ...CLEAN,
      'src/kubelet/node.ts': "import type {\n  Registry,\n} from '../registry/index.js';\nexport type R = Registry;\n",
      'src/client/informer.ts': "// import { Registry } from '../registry/index.js'; (a comment is not an import)\nexport const x = import('../registry/index.js');\n",
      'src/api/bad.ts': "export { Client } from '../client/types.js';\n",
      'src/kubelet/ok.test.ts': "import { Registry } from '../registry/index.js';\n",
    });
    try {
      const r = check(root);
      assert.equal(r.code, 1, r.out);
      const lines = r.out.trim().split('\n').slice(1).map((l) => l.trim()).sort();
      assert.deepEqual(lines, [
        'src/api/bad.ts: imports ../client/types.js: api (floor 0) may import only rooms below it, not client (floor 2)',
        'src/client/informer.ts: imports ../registry/index.js: client may not import registry (only src/client/local.ts, the in-process bridge, may import the registry)',
        'src/kubelet/node.ts: imports ../registry/index.js: kubelet may not import registry (the kubelet is an API client: use src/client)',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails on a room that has no floor yet', () => {
    const root = tree({ ...CLEAN, 'src/newroom/x.ts': 'export const x = 1;\n' });
    try {
      const r = check(root);
      assert.equal(r.code, 1);
      assert.match(r.out, /src\/newroom\/x\.ts: room "newroom" has no floor: add it to FLOORS/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
