/**
 * Streaming subresources with real kubectl: port-forward (SPDY/3.1, and the WebSocket tunnel
 * kubectl 1.31+ tries first) with curl through it, exec over SPDY (kubectl 1.27) and over
 * WebSocket (the newest), cp both ways, TTY resize seen by `stty size` inside, stderr=false,
 * and the failures: a port nothing listens on, exec into a stopped container, clients that go
 * away mid-stream (no process or fd left behind). World: bridge pbstream0, pod CIDR
 * 10.225.0.0/24, local ports 18140-18159; every pod is deleted and the host checked at the end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WebSocket } from 'ws';
import { PodSuite, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, type PodbayServer } from './harness.js';
import { curl, kubectlEnv, portForward, underPty } from './kubectl-tools.js';

const BRIDGE = 'pbstream0';
const kubectls = kubectlBinaries();
const oldest = kubectls[0]!; // 1.27: SPDY only
const newest = kubectls[kubectls.length - 1]!;
let nextLocalPort = 18140;
const localPort = () => {
  assert.ok(nextLocalPort <= 18157, 'this suite owns ports 18140-18159: 18140-18157 for kubectl, 18158-18159 for the hostNetwork pod');
  return nextLocalPort++;
};

function curlAsync(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${port}${path}`]);
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

/** the pids of every process whose parent chain leads to `root` */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [c, pp] of parent) if (pp === pid) (out.push(c), walk(c));
  };
  walk(root);
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** podbay's open fds that are sockets or pipes (files it opens come and go with its own work) */
function streamFds(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (/^(socket|pipe):/.test(readlinkSync(`/proc/${pid}/fd/${fd}`))) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** processes podbay started for streams (exec relays, port relays), by command line */
function streamHelpers(pid: number): string[] {
  return descendants(pid)
    .map(cmdline)
    .filter((c) => /socket\.SOCK_STREAM|socket\.SOCK_SEQPACKET|import fcntl, os, pty|runc --root \S+ exec/.test(c));
}


describe('streaming: port-forward, exec over SPDY and WebSocket, resize', { timeout: 600_000 }, () => {
  const suite = new PodSuite(BRIDGE, '10.225.0.0/24', /^181[45]\d$/);
  let s: PodbayServer;
  const h = kubectlHelpers(() => s, newest.path);

  before(async () => {
    s = await suite.start('podbay-stream-', ['--log-requests']);
    await suite.loadBusybox();
    h.create(
      podOf('web', {
        containers: [
          {
            name: 'web',
            image: 'busybox:1.36',
            command: ['sh', '-c', '([ -e /bin/tar ] || ln -s busybox /bin/tar) && mkdir -p /a /b && echo hello-from-80 > /a/index.html && echo hello-from-81 > /b/index.html && (httpd -f -p 81 -h /b &) && exec httpd -f -p 80 -h /a'],
          },
        ],
      }),
    );
    // one container done, one still running: the pod stays Running, so kubectl lets the exec through
    h.create(
      podOf('half', {
        containers: [
          { name: 'done', image: 'busybox:1.36', command: ['true'] },
          { name: 'up', image: 'busybox:1.36', command: ['sleep', '3600'] },
        ],
      }),
    );
    await waitFor('web running', () => h.pod('web').status.phase === 'Running' || undefined, 60_000);
    await waitFor('half: done exited, up running', () => {
      const st = h.pod('half').status.containerStatuses ?? [];
      return (st.some((c: any) => c.name === 'done' && c.state.terminated) && st.some((c: any) => c.name === 'up' && c.state.running)) || undefined;
    }, 60_000);
  });

  after(async () => {
    await suite.finish(newest.path);
  });

  for (const kc of [oldest, newest]) {
    it(`${kc.name}: port-forward serves curl on two ports, concurrently, and reports a closed port on its error stream`, async () => {
      const [p80, p81, p82] = [localPort(), localPort(), localPort()];
      const readyz = watchReadyz(s);
      const pf = await portForward(s, kc.path, 'web', [`${p80}:80`, `${p81}:81`, `${p82}:82`]);
      try {
        assert.equal(curl(p80).body, 'hello-from-80\n');
        assert.equal(curl(p81).body, 'hello-from-81\n');
        const many = await Promise.all(Array.from({ length: 12 }, (_, i) => curlAsync(i % 2 ? p81 : p80)));
        assert.deepEqual(many, Array.from({ length: 12 }, (_, i) => (i % 2 ? 'hello-from-81\n' : 'hello-from-80\n')));
        // the transport kubectl chose: 1.31+ tunnels SPDY through a WebSocket first
        const transport = kc === oldest ? 'spdy portforward.k8s.io' : 'websocket SPDY/3.1+portforward.k8s.io';
        assert.match(s.log, new RegExp(`portforward\\?? ?.*101 \\(portforward, ${transport.replace(/[+./]/g, '\\$&')}\\)`));
        // nothing listens on 82: curl sees the connection closed, kubectl prints the kubelet's words
        const closed = curl(p82);
        assert.notEqual(closed.code, 0);
        await waitFor('the error is printed', () => /error forwarding port 82 to pod/.test(pf.out()) || undefined, 10_000);
        assert.match(
          pf.out(),
          /error forwarding port 82 to pod [0-9a-f]+, uid : failed to execute portforward in network namespace \\?"[^"\\]+\\?": failed to connect to localhost:82 inside namespace \\?"[0-9a-f]+\\?", IPv4: dial tcp4 127\.0\.0\.1:82: connect: connection refused IPv6 dial tcp6 \[::1\]:82: connect: (connection refused|cannot assign requested address)/,
        );
        // kubectl (1.27.16 too) ends the whole port-forward once a connection reports an error
        await waitFor('kubectl gives up', () => pf.proc.exitCode !== null || undefined, 10_000);
        assert.match(pf.out(), /lost connection to pod/);
      } finally {
        await pf.stop();
      }
      // the server's side is unharmed: a new port-forward serves again
      const again = await portForward(s, kc.path, 'web', [`${p80}:80`]);
      try {
        assert.equal(curl(p80).body, 'hello-from-80\n');
      } finally {
        await again.stop();
      }
      const r = await readyz.stop();
      assert.deepEqual(r.failures, []);
      assert.ok(r.worstMs < 1000, `readyz worst ${r.worstMs} ms`);
      await waitFor('no port relay left', () => streamHelpers(s.proc!.pid!).length === 0 || undefined, 10_000);
    });

    it(`${kc.name}: exec with exit code and stdin, and cp both ways`, () => {
      const k = (args: string[], input?: string) => s.kubectl(kc.path, args, input);
      const hi = k(['exec', 'web', '--', 'echo', 'hi']);
      assert.equal(hi.code, 0, hi.stderr);
      assert.equal(hi.stdout, 'hi\n');
      const three = k(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.equal(three.code, 3);
      assert.equal(three.stdout, 'out\n');
      assert.match(three.stderr, /^err\n/);
      const cat = k(['exec', '-i', 'web', '--', 'sh', '-c', 'tr a-z A-Z'], 'piped in\n');
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'PIPED IN\n');
      const dir = join(suite.work, `cp-${kc.name.replace(/\W/g, '')}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'up.txt'), 'up and in\n');
      const up = k(['cp', join(dir, 'up.txt'), 'web:/tmp/up.txt']);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(k(['exec', 'web', '--', 'cat', '/tmp/up.txt']).stdout, 'up and in\n');
      const down = k(['cp', 'web:/a/index.html', join(dir, 'down.txt')]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(readFileSync(join(dir, 'down.txt'), 'utf8'), 'hello-from-80\n');
    });

    it(`${kc.name}: exec -it shows the terminal's size inside, and follows a resize`, async () => {
      const out = await underPty([kc.path, 'exec', '-it', 'web', '--', 'sh'], kubectlEnv(s), 33, 101, [
        { expect: '# ', send: 'stty size\n' },
        { expect: '33 101', resize: [41, 120], send: 'stty size\n' },
        { expect: '41 120', send: 'exit\n' },
      ]);
      assert.match(out, /33 101/);
      assert.match(out, /41 120/);
    });

    it(`${kc.name}: exec into a stopped container is refused as the kubelet words it`, () => {
      const r = s.kubectl(kc.path, ['exec', 'half', '-c', 'done', '--', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /container not found \("done"\)/);
    });
  }

  for (const kc of [oldest, newest]) {
    const tag = kc === oldest ? 'old' : 'new';
    it(`${kc.name}: kubectl run -i --rm with piped stdin gets it into the container, prints the output and deletes the pod`, async () => {
      const r = spawnSync(kc.path, ['--kubeconfig', s.kubeconfig, 'run', '-i', '--rm', '--restart=Never', '--image=busybox:1.36', `piped-${tag}`, '--', 'sh', '-c', 'tr a-z A-Z; echo done'], {
        input: 'hello stdin\n',
        encoding: 'utf8',
        env: kubectlEnv(s),
        timeout: 90_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /HELLO STDIN\ndone\n/);
      assert.match(r.stdout, new RegExp(`pod "piped-${tag}" deleted`));
    });

    it(`${kc.name}: kubectl run -it gets a shell on the container's terminal, sized and resized like the client's`, async () => {
      const out = await underPty([kc.path, 'run', '-it', '--rm', '--restart=Never', '--image=busybox:1.36', `tty-${tag}`, '--', 'sh'], kubectlEnv(s), 30, 90, [
        { expect: 'try pressing enter', send: '\n' },
        { expect: '# ', send: 'stty size\n' },
        { expect: '30 90', resize: [44, 132], send: 'stty size\n' },
        { expect: '44 132', send: 'exit\n' },
        { expect: `pod "tty-${tag}" deleted` },
      ]);
      assert.match(out, /44 132/);
    });

    it(`${kc.name}: kubectl attach follows a running container's output; attach to a stopped one is refused`, async () => {
      const name = `ticker-${tag}`;
      h.create(podOf(name, { containers: [{ name: 'tick', image: 'busybox:1.36', command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'] }] }));
      await waitFor(`${name} running`, () => h.pod(name).status.phase === 'Running' || undefined, 60_000);
      const a = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'attach', name], { env: kubectlEnv(s), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      a.stdout!.on('data', (d) => (out += d));
      await waitFor(`ticks through attach (${out})`, () => (out.match(/tick \d+/g)?.length ?? 0) >= 3 || undefined, 20_000);
      const gone = new Promise((r) => a.once('exit', r));
      a.kill('SIGTERM');
      await gone;
      const refused = s.kubectl(kc.path, ['attach', 'half', '-c', 'done']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /container not found \("done"\)/);
      h.ok('delete', 'pod', name, '--grace-period=0', '--force');
    });
  }

  it('every kubectl beside the real one (1.27-1.33): exec with stdin, attach via run -i, port-forward with curl', async () => {
    const dir = dirname(oldest.path);
    const versions = readdirSync(dir)
      .filter((f) => /^kubectl\.1\.\d+$/.test(f))
      .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
    assert.ok(versions.length >= 2, `versioned kubectls in ${dir}: ${versions}`);
    const port = localPort();
    for (const v of versions) {
      const bin = join(dir, v);
      const ex = s.kubectl(bin, ['exec', '-i', 'web', '--', 'sh', '-c', 'tr a-z A-Z'], `${v}\n`);
      assert.equal(ex.stdout, `${v.toUpperCase()}\n`, `${v} exec: ${ex.stderr}`);
      const name = `m${v.replace(/\D/g, '')}`;
      const run = spawnSync(bin, ['--kubeconfig', s.kubeconfig, 'run', '-i', '--rm', '--restart=Never', '--image=busybox:1.36', name, '--', 'cat'], { input: `via ${v}\n`, encoding: 'utf8', env: kubectlEnv(s), timeout: 90_000 });
      assert.equal(run.status, 0, `${v} run -i: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`via ${v.replace(/\./g, '\\.')}\n`));
      const pf = await portForward(s, bin, 'web', [`${port}:80`]);
      try {
        assert.equal(curl(port).body, 'hello-from-80\n', `${v} port-forward`);
      } finally {
        await pf.stop();
      }
    }
  });

  it('port-forward to a hostNetwork pod dials on the host itself, as containerd does', async () => {
    // the pod's server listens on the host's loopback, on a port of this suite's range
    h.create(podOf('hostweb', { hostNetwork: true, containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', 'mkdir -p /h && echo hello-from-host > /h/index.html && exec httpd -f -p 127.0.0.1:18158 -h /h'] }] }));
    await waitFor('hostweb running', () => h.pod('hostweb').status.phase === 'Running' || undefined, 60_000);
    const [local, closedLocal] = [localPort(), localPort()];
    const pf = await portForward(s, newest.path, 'hostweb', [`${local}:18158`, `${closedLocal}:18159`]);
    try {
      await waitFor('httpd up', () => curl(local).body === 'hello-from-host\n' || undefined, 15_000);
      assert.notEqual(curl(closedLocal).code, 0);
      await waitFor('the error is printed', () => /error forwarding port 18159/.test(pf.out()) || undefined, 10_000);
      assert.match(pf.out(), /failed to execute portforward in network namespace \\?"host\\?": failed to connect to localhost:18159 inside namespace \\?"[0-9a-f]+\\?", IPv4: dial tcp4 127\.0\.0\.1:18159: connect: connection refused/);
    } finally {
      await pf.stop();
      h.ok('delete', 'pod', 'hostweb', '--grace-period=0', '--force');
    }
  });

  it('a client that disconnects mid-stream leaves no process and no fd behind (exec, port-forward, attach)', async () => {
    const pid = s.proc!.pid!;
    await waitFor('no helpers before', () => streamHelpers(pid).length === 0 || undefined, 10_000);
    const fdsBefore = streamFds(pid);
    for (const kc of [oldest, newest]) {
      const ex = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'exec', 'web', '--', 'sh', '-c', 'echo started; exec sleep 1000'], { env: kubectlEnv(s), stdio: ['ignore', 'pipe', 'pipe'] });
      let said = '';
      ex.stdout!.on('data', (d) => (said += d));
      await waitFor('exec started', () => said.includes('started') || undefined, 20_000);
      const p80 = localPort();
      const pf = await portForward(s, kc.path, 'web', [`${p80}:80`]);
      // a TCP connection held open through the tunnel: a relay process in the pod's netns
      const held = spawn('python3', ['-c', `import socket,time; s=socket.create_connection(("127.0.0.1", ${p80})); s.sendall(b"GET / HTTP/1.0\\r\\n"); time.sleep(60)`]);
      await waitFor('a port relay runs', () => streamHelpers(pid).some((c) => c.includes('SOCK_STREAM')) || undefined, 10_000);
      assert.ok(streamHelpers(pid).some((c) => c.includes('exec') && c.includes('sleep 1000')), streamHelpers(pid).join('\n'));
      // and an attach session (a relay on conmon's attach socket)
      const at = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'attach', 'half', '-c', 'up'], { env: kubectlEnv(s), stdio: ['ignore', 'pipe', 'pipe'] });
      await waitFor('an attach relay runs', () => streamHelpers(pid).some((c) => c.includes('SOCK_SEQPACKET')) || undefined, 20_000);
      ex.kill('SIGKILL');
      pf.proc.kill('SIGKILL');
      held.kill('SIGKILL');
      at.kill('SIGKILL');
      await waitFor(`helpers gone (${streamHelpers(pid).join('; ')})`, () => streamHelpers(pid).length === 0 || undefined, 15_000);
      // the exec'd process inside the container is gone too
      const ps = s.kubectl(newest.path, ['exec', 'web', '--', 'ps', '-o', 'args']);
      assert.doesNotMatch(ps.stdout, /sleep 1000/);
    }
    await waitFor(`fds back to ${fdsBefore} (now ${streamFds(pid)})`, () => streamFds(pid) <= fdsBefore || undefined, 15_000);
  });

  it('exec with stderr=false has no stderr channel; the process\'s stderr is dropped', async () => {
    const pod = h.pod('web');
    const url = `wss://127.0.0.1:${s.port}/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo+out%3B+echo+err+%3E%262&stdout=true&stderr=false`;
    const channels = await new Promise<number[]>((resolve, reject) => {
      const ws = new WebSocket(url, ['v5.channel.k8s.io'], { ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } });
      const seen: number[] = [];
      ws.on('message', (d: Buffer) => seen.push(d[0]!));
      ws.on('close', () => resolve(seen));
      ws.on('error', reject);
    });
    assert.ok(pod.metadata.uid);
    assert.ok(channels.includes(1), `stdout came: ${channels}`);
    assert.ok(!channels.includes(2), `no stderr channel: ${channels}`);
    assert.equal(channels[channels.length - 1], 3, 'the status ends the session');
  });

  it('port-forward over the WebSocket channel protocol (v4.channel.k8s.io, as the Python client speaks it): a port header per channel, data, and a closed port on its error channel', async () => {
    const url = `wss://127.0.0.1:${s.port}/api/v1/namespaces/default/pods/web/portforward?ports=80&ports=82`;
    const got = new Map<number, Buffer>();
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, ['v4.channel.k8s.io'], { ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } });
      const timer = setTimeout(() => (ws.close(), reject(new Error(`no answer: ${[...got].map(([c, b]) => `${c}:${b}`)}`))), 15_000);
      ws.on('open', () => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')])));
      ws.on('message', (d: Buffer) => {
        got.set(d[0]!, Buffer.concat([got.get(d[0]!) ?? Buffer.alloc(0), d.subarray(1)]));
        const data = got.get(0)?.subarray(2).toString() ?? '';
        const err = got.get(3)?.subarray(2).toString() ?? '';
        if (data.includes('hello-from-80') && err.includes('connection refused')) {
          clearTimeout(timer);
          ws.close();
          resolve();
        }
      });
      ws.on('error', reject);
    });
    for (const [ch, port] of [[0, 80], [1, 80], [2, 82], [3, 82]] as const) assert.equal(got.get(ch)?.readUInt16LE(0), port, `channel ${ch} starts with its port`);
    assert.match(got.get(3)!.subarray(2).toString(), /^error forwarding port 82 to pod [0-9a-f]+, uid : .*dial tcp4 127\.0\.0\.1:82: connect: connection refused/);
    const bad = await s.request('GET', '/api/v1/namespaces/default/pods/web/portforward?ports=http', {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'v4.channel.k8s.io' },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /unable to parse \\"http\\" as a port/);
  });

  it('an upgrade to an unknown protocol, or none in common, is an HTTP error', async () => {
    const r = await s.request('POST', '/api/v1/namespaces/default/pods/web/portforward', { headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v9.nothing' } }).catch((e) => e);
    // Node's client sees the refusal as a plain response
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.match(r.body, /unable to negotiate protocol/);
  });
});
