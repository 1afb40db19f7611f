/**
 * Container logs capped and rotated as the kubelet's container log manager does, with real
 * conmon reopening its log file on the `ctl` FIFO: a busybox container prints numbered lines
 * quickly into a server started with --container-log-max-size 64Ki --container-log-max-files 3.
 * Asserts what a user (and the disk) sees: never more than 3 log files, none much larger than
 * the max, `kubectl logs --tail=N` the last N lines in order, and `kubectl logs -f` continuing
 * across rotations without losing or repeating a line.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, watchReadyz } from './harness.js';

const BRIDGE = 'pbmiscsec0';
const CIDR = '10.215.0.0/24';
const MAX_SIZE = 64 * 1024;
const MAX_FILES = 3;

const [kc] = kubectlBinaries().slice(-1);

class LogSuite extends PodSuite {
  override serverArgs(): string[] {
    return [...super.serverArgs(), '--container-log-max-size', '64Ki', '--container-log-max-files', String(MAX_FILES), '--container-log-monitor-interval', '500ms'];
  }
}

/** The numbers of "line NNNNNNNN ..." lines, asserting each line has that shape. */
function numbers(text: string): number[] {
  const lines = text.split('\n').filter((l) => l);
  return lines.map((l) => {
    const m = /^line (\d{8}) x+$/.exec(l);
    assert.ok(m, `an unexpected log line: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
}

function assertConsecutive(ns: number[], what: string): void {
  for (let i = 1; i < ns.length; i++) {
    if (ns[i] !== ns[i - 1] + 1) assert.fail(`${what}: line ${ns[i - 1]} is followed by ${ns[i]} (a line ${ns[i] <= ns[i - 1] ? 'repeated' : 'lost'})`);
  }
}

describe('container logs rotated (--container-log-max-size, --container-log-max-files) and read across rotations', () => {
  let s: PodbayServer;
  const suite = new LogSuite(BRIDGE, CIDR, /^197[89]\d$/);
  const ok = (...args: string[]) => {
    const r = s.kubectl(kc.path, args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    s = await suite.start('podbay-e2e-logrot-');
    await suite.loadBusybox();
  });

  after(() => suite.finish(kc.path));

  it('caps the files, tails across them, and follows across rotations', async () => {
    // ~40 lines of ~100 CRI bytes every 0.1 s: a rotation every second or two
    const r = s.kubectl(
      kc.path,
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'i=0; while true; do j=0; while [ $j -lt 40 ]; do printf "line %08d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n" $i; i=$((i+1)); j=$((j+1)); done; sleep 0.1; done']
`,
    );
    assert.equal(r.code, 0, r.stderr);
    const pod = await waitFor('chatty running', () => {
      const p = JSON.parse(ok('get', 'pod', 'chatty', '-o', 'json'));
      return p.status.phase === 'Running' ? p : undefined;
    });
    const logDir = join(s.dataDir, 'logs', `default_chatty_${pod.metadata.uid}`, 'c');
    const readyz = watchReadyz(s);

    // kubectl logs -f from the start, kept running across the rotations
    let followed = '';
    const follower = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'logs', '-f', 'chatty'], { env: { ...process.env, HOME: s.dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let followErr = '';
    follower.stdout.on('data', (d) => (followed += d));
    follower.stderr.on('data', (d) => (followErr += d));

    // watch the directory until at least 4 rotations happened
    const rotated = new Set<string>();
    const problems: string[] = [];
    let worstSize = 0;
    const deadline = Date.now() + 60_000;
    while (rotated.size < 4 && Date.now() < deadline) {
      // conmon's own "<n>.log.tmp" lives for an instant while it reopens: not a log file
      const names = readdirSync(logDir).filter((n) => !n.endsWith('.tmp'));
      if (names.length > MAX_FILES) problems.push(`${names.length} files: ${names.join(' ')}`);
      for (const n of names) {
        if (n !== '0.log') {
          assert.match(n, /^0\.log\.\d{8}-\d{6}$/, 'rotated files are named as the kubelet names them');
          rotated.add(n);
        }
        const size = statSync(join(logDir, n), { throwIfNoEntry: false })?.size ?? 0;
        worstSize = Math.max(worstSize, size);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(rotated.size >= 4, `at least 4 rotations within 60 s (saw ${[...rotated].join(' ')}); server log:\n${s.log}`);
    assert.deepEqual(problems, [], `never more than ${MAX_FILES} log files`);
    assert.ok(worstSize < 2 * MAX_SIZE, `no file much larger than the max (largest ${worstSize} bytes)`);

    // --tail: the last N lines, consecutive, even when N reaches into rotated files
    for (const n of [10, 1500]) {
      const tail = numbers(ok('logs', 'chatty', `--tail=${n}`));
      assert.equal(tail.length, n, `--tail=${n} gives ${n} lines`);
      assertConsecutive(tail, `--tail=${n}`);
    }
    // everything kept: consecutive from the oldest kept line; the first lines are gone with the oldest files
    const all = numbers(ok('logs', 'chatty'));
    assertConsecutive(all, 'kubectl logs');
    assert.ok(all[0] > 0, 'the oldest rotated files were deleted');
    assert.ok(all.length > 1000, `several files' worth of lines (${all.length})`);

    // -f: from line 0, across every rotation, nothing lost or repeated
    await new Promise((res) => setTimeout(res, 500));
    follower.kill('SIGTERM');
    await new Promise((res) => follower.once('exit', res));
    const f = numbers(followed.slice(0, followed.lastIndexOf('\n') + 1));
    assert.equal(f[0], 0, `kubectl logs -f starts at the first line (stderr: ${followErr})`);
    assertConsecutive(f, 'kubectl logs -f');
    assert.ok(f[f.length - 1] >= all[all.length - 1] - 500, `the follower kept up: last ${f[f.length - 1]}, logs ended at ${all[all.length - 1]}`);
    assert.ok(f.length > all.length, 'the follower saw lines that rotation has since deleted');

    const rz = await readyz.stop();
    assert.deepEqual(rz.failures, []);
    assert.ok(rz.worstMs < 1000, `/readyz answered within 1 s throughout (worst ${rz.worstMs} ms)`);
    ok('delete', 'pod', 'chatty', '--grace-period=0', '--force');
  });
});
