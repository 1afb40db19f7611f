/**
 * Escape 6 of issue 6, from the user's side: an image whose links are absolute (`/bin/sh ->
 * /bin/busybox`, as Alpine ships) or climb above the root (`up -> ../../../..`) loads and runs,
 * the links resolving inside the container's root, while the same links in the layer directory
 * on the host are stored as written and never followed by podbay (the hostile-layer attacks
 * themselves are unit tests: src/image/unpack.test.ts). Shares the world of logs-rotation.test.ts
 * (bridge pbmiscsec0, 10.215.0.0/24): the e2e files run one at a time.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor } from './harness.js';
import { writeDockerArchive } from '../../src/image/archive-build.js';

const [kc] = kubectlBinaries().slice(-1);

describe('image layers keep absolute and climbing symlinks as written (they resolve in the container)', () => {
  let s: PodbayServer;
  const suite = new PodSuite('pbmiscsec0', '10.215.0.0/24', /^197[89]\d$/);
  const ok = (...args: string[]) => {
    const r = s.kubectl(kc.path, args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    s = await suite.start('podbay-e2e-links-');
    const base = await suite.loadBusybox();
    const empty = join(suite.work, 'empty');
    mkdirSync(empty);
    await writeDockerArchive(join(suite.work, 'alpine-like.tar'), {
      repoTags: ['alpine-like:1'],
      layers: [
        base,
        {
          dir: empty,
          raw: [
            { path: 'bin/', type: 'Directory' },
            { path: 'bin/sh', type: 'SymbolicLink', linkpath: '/bin/busybox' },
            { path: 'up', type: 'SymbolicLink', linkpath: '../../../..' },
            { path: 'etc-abs', type: 'SymbolicLink', linkpath: '/etc' },
          ],
        },
      ],
      config: { cmd: ['sh'] },
    });
    suite.loadImage(join(suite.work, 'alpine-like.tar'));
  });

  after(() => suite.finish(kc.path));

  it('runs /bin/sh -> /bin/busybox; the links read the same on the host and in the container', async () => {
    const r = s.kubectl(
      kc.path,
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: {name: links}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: alpine-like:1
    command: [/bin/sh, -c, 'readlink /bin/sh; readlink /up; ls /up/bin/busybox; cat /etc-abs/hostname >/dev/null && echo etc-ok']
`,
    );
    assert.equal(r.code, 0, r.stderr);
    await waitFor('links pod done', () => {
      const p = JSON.parse(ok('get', 'pod', 'links', '-o', 'json'));
      return ['Succeeded', 'Failed'].includes(p.status.phase) ? p : undefined;
    });
    assert.equal(ok('logs', 'links'), '/bin/busybox\n../../../..\n/up/bin/busybox\netc-ok\n', 'the absolute link runs; the climbing one stops at the container root');
    // on the host: stored verbatim in the layer directory
    const layersDir = join(s.dataDir, 'images');
    const found: string[] = [];
    const walk = (d: string, depth: number) => {
      if (depth > 6) return;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isSymbolicLink() && ['sh', 'up', 'etc-abs'].includes(e.name)) found.push(`${e.name} -> ${readlinkSync(p)}`);
        else if (e.isDirectory() && !e.isSymbolicLink()) walk(p, depth + 1);
      }
    };
    walk(layersDir, 0);
    assert.deepEqual(found.sort(), ['etc-abs -> /etc', 'sh -> /bin/busybox', 'sh -> busybox', 'up -> ../../../..'], 'the layers on the host hold the links as written (the base layer\'s relative sh, the top layer\'s absolute one)');
    ok('delete', 'pod', 'links', '--grace-period=0', '--force');
  });
});
