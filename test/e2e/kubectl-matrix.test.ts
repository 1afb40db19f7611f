/**
 * The kubectl matrix: every versioned kubectl beside the real one (kubectl.1.27 ... 1.33), each
 * through the verbs a user reaches for, against one live server with its kubelet. The README's
 * table is this test's; a cell that fails here is a cell that is not true there.
 *
 * World: bridge pbmatrix0, pod CIDR 10.233.0.0/24, local ports 18280-18299 (port-forward).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PodSuite, kubectlBinaries, kubectlHelpers, podOf, waitFor, type PodbayServer } from './harness.js';
import { curl, kubectlEnv, portForward, underPty } from './kubectl-tools.js';

const dir = dirname(kubectlBinaries()[0]!.path);
const versions = readdirSync(dir)
  .filter((f) => /^kubectl\.1\.\d+$/.test(f))
  .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));

/** the verbs, in the README table's order */
export const MATRIX_VERBS = [
  'apply',
  'apply --server-side',
  'get -w',
  'describe',
  'logs -f',
  'exec (exit code, stdin)',
  'exec -it (size, resize)',
  'cp (both ways)',
  'run -i --rm (attach)',
  'port-forward',
  'get --raw .../proxy/',
  'wait',
  'debug --copy-to',
  'debug -it (ephemeral, --target)',
  'top pod',
  'auth can-i',
  'delete',
] as const;

describe('every kubectl 1.27-1.33 through the verbs users reach for', () => {
  const suite = new PodSuite('pbmatrix0', '10.233.0.0/24', /^18(2[89]\d)$/);
  let s: PodbayServer;
  const [newest] = kubectlBinaries().slice(-1);
  const { ok, pod, create } = kubectlHelpers(() => s, newest!.path);
  let port = 18280;

  before(async () => {
    assert.ok(versions.length >= 7, `kubectl 1.27 to 1.33 beside the real one in ${dir}: found ${versions.join(' ')}`);
    s = await suite.start('podbay-e2e-matrix-');
    await suite.loadBusybox();
    create(
      podOf('web', {
        containers: [
          {
            name: 'web',
            image: 'busybox:1.36',
            command: ['sh', '-c', '([ -e /bin/tar ] || ln -s busybox /bin/tar) && mkdir -p /www && echo hello-from-80 > /www/index.html && echo started && exec httpd -f -p 80 -h /www'],
            readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
            resources: { limits: { cpu: '500m', memory: '64Mi' } },
          },
        ],
      }),
    );
    await waitFor('web ready', () => ((pod('web').status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 60_000);
  });

  after(() => suite.finish(newest!.path));

  for (const v of versions) {
    it(v.replace('kubectl.', 'kubectl '), async () => {
      const bin = join(dir, v);
      const n = v.replace(/\D/g, '');
      const k = (args: string[], input?: string, timeoutMs = 60_000) => {
        const r = spawnSync(bin, ['--kubeconfig', s.kubeconfig, ...args], { input, encoding: 'utf8', env: kubectlEnv(s), timeout: timeoutMs });
        return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
      };
      const must = (verb: (typeof MATRIX_VERBS)[number], r: { code: number | null; out: string; err: string }, re: RegExp, code = 0) => {
        assert.equal(r.code, code, `${v} ${verb}: exit ${r.code}\n${r.out}\n${r.err}`);
        assert.match(r.out, re, `${v} ${verb}: ${r.out}\n${r.err}`);
      };
      const cm = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  k: "${value}"\n`;

      must('apply', k(['apply', '-f', '-'], cm(`m${n}`, 'a')), new RegExp(`configmap/m${n} created`));
      must('apply', k(['apply', '-f', '-'], cm(`m${n}`, 'b')), new RegExp(`configmap/m${n} configured`));
      must('apply --server-side', k(['apply', '--server-side', '-f', '-'], cm(`s${n}`, 'a')), new RegExp(`configmap/s${n} serverside-applied`));
      // a watch until the client's own timeout ends it: the pod's row came first
      const watch = k(['get', 'pods', 'web', '-w'], undefined, 3000);
      assert.match(watch.out, /^web\s+1\/1\s+Running/m, `${v} get -w: ${watch.out}${watch.err}`);
      must('describe', k(['describe', 'pod', 'web']), /Name:\s+web[\s\S]*Events:/);
      const logs = k(['logs', '-f', 'web'], undefined, 3000);
      assert.match(logs.out, /^started$/m, `${v} logs -f: ${logs.out}${logs.err}`);
      must('exec (exit code, stdin)', k(['exec', '-i', 'web', '--', 'sh', '-c', 'read x; echo got-$x; exit 3'], `${n}\n`), new RegExp(`^got-${n}$`, 'm'), 3);
      const tty = await underPty([bin, '--kubeconfig', s.kubeconfig, 'exec', '-it', 'web', '--', 'sh'], kubectlEnv(s), 30, 90, [
        { expect: '# ', send: 'stty size\n' },
        { expect: '30 90', resize: [41, 120], send: 'stty size\n' },
        { expect: '41 120', send: 'exit\n' },
      ]);
      assert.match(tty, /41 120/, `${v} exec -it`);
      const local = join(suite.work, `cp-${n}.txt`);
      writeFileSync(local, `copied by ${v}\n`);
      must('cp (both ways)', k(['cp', local, `web:/tmp/cp-${n}.txt`]), /[\s\S]*/);
      // (kubectl up to 1.30 passes on tar's "removing leading '/'" notice)
      must('cp (both ways)', k(['cp', `web:/tmp/cp-${n}.txt`, `${local}.back`]), /[\s\S]*/);
      assert.equal(readFileSync(`${local}.back`, 'utf8'), `copied by ${v}\n`);
      must('run -i --rm (attach)', k(['run', '-i', '--rm', '--restart=Never', '--image=busybox:1.36', `a${n}`, '--', 'cat'], `via ${v}\n`, 90_000), new RegExp(`via ${v.replace(/\./g, '\\.')}`));
      const pf = await portForward(s, bin, 'web', [`${port}:80`]);
      try {
        assert.equal(curl(port).body, 'hello-from-80\n', `${v} port-forward`);
      } finally {
        await pf.stop();
        port++;
      }
      must('get --raw .../proxy/', k(['get', '--raw', '/api/v1/namespaces/default/pods/web:80/proxy/']), /^hello-from-80$/m);
      must('wait', k(['wait', '--for=condition=Ready', 'pod/web', '--timeout=20s']), /pod\/web condition met/);
      must('debug --copy-to', k(['debug', 'web', `--copy-to=d${n}`, '--image=busybox:1.36', '--container=dbg', '--', 'true']), /^$|./);
      await waitFor(`${v} the debug copy`, () => (k(['get', 'pod', `d${n}`, '-o', 'jsonpath={.spec.containers[*].name}']).out.includes('dbg') ? true : undefined), 30_000);
      // an ephemeral container in the web container's PID namespace (httpd is its pid 1)
      const debug = await underPty([bin, '--kubeconfig', s.kubeconfig, 'debug', '-it', 'web', '--image=busybox:1.36', '--image-pull-policy=Never', '--target=web', `--container=dbg${n}`, '--', 'sh'], kubectlEnv(s), 30, 100, [
        { expect: 'pressing enter', send: '\n' },
        { expect: '# ', send: 'echo "pid1=$(tr \'\\0\' \' \' < /proc/1/cmdline)"\n' },
        { expect: 'pid1=httpd', send: 'exit\n' },
      ]);
      assert.match(debug, /pid1=httpd -f -p 80/, `${v} debug -it`);
      must('top pod', k(['top', 'pod', 'web']), /^web\s+\d+m\s+\d+Mi/m);
      must('auth can-i', k(['auth', 'can-i', 'create', 'pods']), /^yes$/m);
      must('delete', k(['delete', 'configmap', `m${n}`, `s${n}`]), new RegExp(`configmap "m${n}" deleted`));
      must('delete', k(['delete', 'pod', `d${n}`, '--grace-period=0', '--force']), new RegExp(`pod "d${n}" (force )?deleted`));
      ok('get', 'pod', 'web');
    });
  }
});
