/**
 * `podbay explain pod` for real: a podbay server with its kubelet (runc, conmon, CNI), pods
 * made with real kubectl, and explain's answer compared with what standard tools report
 * independently: `ls -l /proc/PID/ns` and readlink for the inodes, `ip -j link` (host and
 * pod netns) for the veth pair and the bridge, `iptables -t nat -S` for the DNAT rules,
 * /proc/PID/status for the process tree. The main pod is shaped after the seed tutorial's
 * (ghost: an "nginx" and a "ghost" container, nginx-config mounted read-only at /etc/nginx/, a
 * hostPort), built from busybox. This suite owns bridge pbexplain0, subnet
 * 10.221.0.0/24 and hostPorts 19900-19919; every pod is deleted and the host checked at the end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inflateSync } from 'node:zlib';
import { join } from 'node:path';
import { PODBAY, PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';
import { NS_TYPES, type PodExplain } from '../../src/explain/types.js';
import puppeteer, { type Page } from 'puppeteer-core';

const [kc] = kubectlBinaries().slice(-1);
const BRIDGE = 'pbexplain0';
const HOST_PORT = 19900;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const CHROMIUM = '/usr/bin/chromium';

/** the cmdlines of every process that names DIR (a chromium left behind would) */
function processesNaming(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) out.push(`${pid}: ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * Debian's chromium, headless, driven by puppeteer-core, with a profile dir of its own; after
 * FN, the browser is closed (puppeteer kills its process group if it lingers), the profile dir
 * removed, and no process naming that dir may remain.
 */
async function withChromium(fn: (page: Page) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (the web view is tested in Debian's chromium, headless)`);
  const profile = mkdtempSync(join(tmpdir(), 'podbay-chromium-'));
  try {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      // the test's own server on 127.0.0.1 has its own CA
      acceptInsecureCerts: true,
      args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors', '--no-first-run', '--window-size=1280,1000'],
      defaultViewport: { width: 1280, height: 1000 },
    });
    const proc = browser.process()!;
    try {
      const [page] = await browser.pages();
      await fn(page ?? (await browser.newPage()));
    } finally {
      await browser.close();
      for (let i = 0; proc.exitCode === null && proc.signalCode === null && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; processesNaming(profile).length && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(processesNaming(profile), [], 'no chromium process is left');
  } finally {
    rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
  }
  assert.equal(existsSync(profile), false, 'the profile dir is gone');
}

/**
 * A screenshot that shows something: a PNG of the viewport's size at least, big, and not one
 * flat colour (its inflated scanlines hold many distinct byte values).
 */
function assertRealScreenshot(png: Buffer): void {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
  assert.ok(png.length > 20_000, `a screenshot of ${png.length} bytes`);
  assert.equal(png.subarray(12, 16).toString(), 'IHDR');
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.ok(width >= 1280 && height >= 1000, `${width}x${height}`);
  const idat: Buffer[] = [];
  for (let off = 8; off < png.length; ) {
    const len = png.readUInt32BE(off);
    if (png.subarray(off + 4, off + 8).toString() === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const pixels = inflateSync(Buffer.concat(idat));
  assert.ok(new Set(pixels).size > 64, 'the screenshot is not a flat colour');
}

/** `ls -l /proc/PID/ns`, parsed: type -> inode */
function lsNs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of sh('ls', ['-l', `/proc/${pid}/ns`]).split('\n')) {
    const m = /\s(\w+) -> '?\w+:\[(\d+)\]'?$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe('podbay explain pod (runc, conmon, CNI, real kubectl)', () => {
  const suite = new PodSuite(BRIDGE, '10.221.0.0/24', /^199[01]\d$/);
  let s: PodbayServer;
  const { k, ok, apply, pod } = kubectlHelpers(() => s, kc.path);
  const explain = (...args: string[]) => spawnSync(PODBAY, ['explain', 'pod', ...args, '--kubeconfig', s.kubeconfig], { encoding: 'utf8', timeout: 60_000 });
  const explainJson = (name: string): PodExplain => {
    const r = explain(name, '-o', 'json');
    assert.equal(r.status, 0, `podbay explain failed:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const running = (name: string) =>
    waitFor(`${name} running`, () => {
      const p = pod(name);
      return p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c: any) => c.state?.running) ? p : undefined;
    }, 60_000);
  const fits80 = (text: string) => {
    const long = text.split('\n').filter((l) => [...l].length > 80);
    assert.deepEqual(long, [], 'every line of the text output fits 80 columns');
  };

  before(async () => {
    s = await suite.start('podbay-e2e-explain-');
    await suite.loadBusybox();
    ok('create', 'configmap', 'nginx-config', '--from-literal=nginx.conf=events {}', '--from-literal=mime.types=types {}');
    apply(`
apiVersion: v1
kind: Pod
metadata: {name: ghost}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: nginx
    image: busybox:1.36
    command: [sh, -c, 'sleep 3600 & wait']
    ports: [{containerPort: 80, protocol: TCP, hostPort: ${HOST_PORT}}]
    volumeMounts:
    - {name: nginx-config, mountPath: /etc/nginx/, readOnly: true}
    - {name: content, mountPath: /var/www}
  - name: ghost
    image: busybox:1.36
    command: [sleep, '3600']
    volumeMounts:
    - {name: content, mountPath: /var/lib/ghost/content, subPath: ghost}
  volumes:
  - {name: nginx-config, configMap: {name: nginx-config}}
  - {name: content, emptyDir: {}}
`);
    await running('ghost');
  });

  after(async () => {
    await suite.finish(kc.path);
  });

  it('namespaces: inodes as ls -l /proc/PID/ns and readlink report them; net/ipc/uts shared, pid not', () => {
    const e = explainJson('ghost');
    assert.deepEqual(e.namespaces.rows.map((r) => r.name), ['pause', 'nginx', 'ghost']);
    const pause = e.namespaces.rows[0]!;
    for (const r of e.namespaces.rows) {
      const ls = lsNs(r.hostPid);
      for (const t of NS_TYPES) {
        assert.equal(r.ns[t]?.inode, ls[t], `${r.name} ${t} as ls -l /proc/${r.hostPid}/ns shows it`);
        assert.equal(`${t}:[${r.ns[t]!.inode}]`, readlinkSync(`/proc/${r.hostPid}/ns/${t}`));
      }
      // the PID inside the pod: NSpid's last field in /proc/PID/status
      const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${r.hostPid}/status`, 'utf8'))![1]!.trim().split(/\s+/);
      assert.equal(r.podPid, Number(nspid.at(-1)));
      assert.equal(r.podPid, 1, `${r.name} is PID 1 of its own pid namespace`);
      if (r.role === 'container') {
        for (const t of ['net', 'ipc', 'uts'] as const) assert.equal(r.ns[t]!.shared, true, `${r.name} shares ${t} with pause`);
        assert.equal(r.ns.pid!.shared, false, 'no shareProcessNamespace: a pid namespace of its own');
        assert.notEqual(r.ns.mnt!.inode, pause.ns.mnt!.inode);
      }
    }
    assert.equal(pause.ns.user!.host, true, 'no user namespace: the host\'s');
    assert.equal(pause.ns.net!.host, false);
    assert.ok(e.namespaces.differences.some((d) => /^pid: each container has a PID namespace of its own/.test(d)), e.namespaces.differences.join('\n'));
    assert.ok(e.namespaces.differences.some((d) => /^uts: .*docker cannot share UTS/.test(d)));
  });

  it('network: veth pair and bridge as ip -j link reports them, DNAT rules as iptables -t nat -S', () => {
    const e = explainJson('ghost');
    const n = e.network;
    const pausePid = e.namespaces.rows[0]!.hostPid;
    const podIP = pod('ghost').status.podIP;
    assert.deepEqual(n.podIPs, [podIP]);
    // in the pod: eth0's ifindex and its peer's
    const inside = JSON.parse(sh('nsenter', ['-t', String(pausePid), '-n', 'ip', '-j', 'link'])) as any[];
    const eth0 = inside.find((l) => l.ifname === 'eth0');
    assert.ok(n.veth, `a veth pair: ${JSON.stringify(n)}`);
    assert.equal(n.veth.podIfname, 'eth0');
    assert.equal(n.veth.podIfindex, eth0.ifindex);
    assert.equal(n.veth.hostIfindex, eth0.link_index, 'the peer ifindex ip reports for eth0');
    // on the host: the peer, its master and the bridge
    const host = JSON.parse(sh('ip', ['-j', 'link'])) as any[];
    const peer = host.find((l) => l.ifindex === n.veth!.hostIfindex);
    assert.equal(peer.ifname, n.veth.hostIfname);
    assert.equal(peer.master, BRIDGE);
    assert.equal(n.veth.bridge, BRIDGE);
    const br = host.find((l) => l.ifname === BRIDGE);
    assert.equal(n.bridge?.name, BRIDGE);
    assert.equal(n.bridge?.ifindex, br.ifindex);
    const brAddr = (JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', BRIDGE]))[0].addr_info as any[]).map((a) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(n.bridge?.addresses, brAddr);
    assert.equal(n.gateway, brAddr[0]!.split('/')[0]);
    assert.ok(n.routes.some((r) => r.dst === 'default' && r.via === n.gateway));
    // every rule shown exists, and every DNAT to the pod is shown
    const nat = sh('iptables', ['-t', 'nat', '-S']).split('\n');
    for (const r of n.natRules) assert.ok(nat.includes(r.rule), `rule shown by explain exists in iptables -t nat -S: ${r.rule}`);
    const dnats = nat.filter((l) => l.includes(`--to-destination ${podIP}:80`));
    assert.ok(dnats.length >= 1, nat.join('\n'));
    for (const d of dnats) assert.ok(n.natRules.some((r) => r.rule === d), `DNAT rule missing from explain: ${d}`);
    assert.ok(n.natRules.some((r) => r.chain === `PODBAY-HP-${BRIDGE}`), `the jump from PODBAY-HP-${BRIDGE} is shown`);
    assert.ok(n.natRules.some((r) => r.chain === 'PREROUTING') && n.natRules.some((r) => r.chain === 'OUTPUT'), 'the entry points are shown');
    assert.ok(n.natRules.every((r) => r.table === 'nat'));
    assert.deepEqual(n.hostPorts.map((h) => [h.hostPort, h.containerPort, h.container]), [[HOST_PORT, 80, 'nginx']]);
  });

  it('processes: conmon -> container init -> children, with host and pod PIDs', () => {
    const e = explainJson('ghost');
    assert.deepEqual(e.processes.map((p) => p.name), ['pause', 'nginx', 'ghost']);
    for (const t of e.processes) {
      const conmon = t.root!;
      assert.equal(conmon.comm, 'conmon');
      const init = conmon.children[0]!;
      const ppid = Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${init.hostPid}/status`, 'utf8'))![1]);
      assert.equal(ppid, conmon.hostPid, `${t.name}: conmon is the init's parent`);
      assert.equal(init.podPid, 1);
    }
    const web = e.processes.find((p) => p.name === 'nginx')!.root!.children[0]!;
    assert.equal(web.comm, 'sh');
    const sleep = web.children.find((c) => c.comm === 'sleep');
    assert.ok(sleep, `sh's child sleep is shown: ${JSON.stringify(web)}`);
    assert.equal(sleep.podPid, Number(/^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${sleep.hostPid}/status`, 'utf8'))![1]));
    assert.notEqual(sleep.podPid, sleep.hostPid);
  });

  it('volumes: host paths, ..data and keys of the configMap, ro/rw and subPath per container', () => {
    const e = explainJson('ghost');
    const site = e.volumes.find((v) => v.name === 'nginx-config')!;
    assert.equal(site.type, 'configMap');
    assert.equal(site.exists, true);
    assert.deepEqual(site.keys, ['mime.types', 'nginx.conf']);
    assert.equal(site.dataLink, readlinkSync(`${site.hostPath}/..data`));
    assert.deepEqual(site.mounts, [{ container: 'nginx', mountPath: '/etc/nginx/', readOnly: true, kernel: 'ro' }]);
    const scratch = e.volumes.find((v) => v.name === 'content')!;
    assert.equal(scratch.type, 'emptyDir');
    assert.deepEqual(
      scratch.mounts.map((m) => [m.container, m.mountPath, m.readOnly, m.kernel, m.subPath]),
      [
        ['nginx', '/var/www', false, 'rw', undefined],
        ['ghost', '/var/lib/ghost/content', false, 'rw', 'ghost'],
      ],
    );
  });

  it('text output fits 80 columns and shows the picture, the by-hand commands and the docker recipe', () => {
    const e = explainJson('ghost');
    const r = explain('ghost');
    assert.equal(r.status, 0, r.stderr);
    fits80(r.stdout);
    const pausePid = e.namespaces.rows[0]!.hostPid;
    for (const want of [`bridge ${BRIDGE}`, e.network.veth!.hostIfname, 'pod default/ghost', `nsenter -t ${pausePid} -n ip addr`, `ip link show master ${BRIDGE}`, 'iptables -t nat -S PODBAY-HPD-', '--net=container:', `${HOST_PORT} ══DNAT══▶`]) {
      assert.ok(r.stdout.includes(want), `text output shows ${JSON.stringify(want)}:\n${r.stdout}`);
    }
    const svg = explain('ghost', '-o', 'svg');
    assert.equal(svg.status, 0, svg.stderr);
    // EXPLAIN_DUMP=DIR keeps the outputs (how docs/explain-example.* were made)
    if (process.env.EXPLAIN_DUMP) {
      writeFileSync(join(process.env.EXPLAIN_DUMP, 'explain-ghost.txt'), r.stdout);
      writeFileSync(join(process.env.EXPLAIN_DUMP, 'explain-ghost.svg'), svg.stdout);
    }
    assert.match(svg.stdout, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const want of [BRIDGE, e.network.veth!.hostIfname, 'pod default/ghost', '>nginx<', '>ghost<', '>pause<']) assert.ok(svg.stdout.includes(want), `svg shows ${want}`);
  });

  it('shareProcessNamespace: one pid namespace, pause is PID 1, the recipe adds --pid=container:', async () => {
    apply(`
apiVersion: v1
kind: Pod
metadata: {name: onepid}
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 0
  containers:
  - {name: a, image: busybox:1.36, command: [sleep, '3600']}
  - {name: b, image: busybox:1.36, command: [sleep, '3600']}
`);
    await running('onepid');
    const e = explainJson('onepid');
    const [pause, ...ctrs] = e.namespaces.rows;
    assert.equal(pause!.podPid, 1);
    for (const r of ctrs) {
      assert.equal(r.ns.pid!.shared, true, `${r.name} shares pause's pid namespace`);
      assert.equal(r.ns.pid!.inode, lsNs(r.hostPid).pid);
      assert.notEqual(r.podPid, 1, 'pause is PID 1 of the shared namespace');
      assert.equal(r.podPid, Number(/^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${r.hostPid}/status`, 'utf8'))![1]));
    }
    assert.ok(e.namespaces.differences.some((d) => d.startsWith('pid: shared with pause (shareProcessNamespace: true)')));
    assert.ok(e.dockerRecipe.some((l) => l.includes('--pid=container:fake_k8s_pod_onepid_pause')));
    ok('delete', 'pod', 'onepid', '--wait=false');
  });

  it('the web view: a login form; a wrong token gets it again; pods appear live; a pod shows its diagram and tables', async () => {
    await withChromium(async (page) => {
      const waitFor = (what: string, fn: () => unknown, timeout = 10_000) =>
        page.waitForFunction(fn, { timeout, polling: 50 }).catch((e: Error) => assert.fail(`page: ${what} did not happen within ${timeout} ms (${e.message})`));
      const text = () => page.evaluate(() => document.body.innerText);
      await page.goto(`https://127.0.0.1:${s.port}/ui/`, { waitUntil: 'load' });
      await waitFor('the login form', () => !document.getElementById('login')!.hidden && document.getElementById('main')!.hidden);
      const login = (cred: string) =>
        page.evaluate((c) => {
          (document.getElementById('cred') as HTMLTextAreaElement).value = c;
          document.getElementById('login-button')!.click();
        }, cred);
      await login('not-the-token');
      await waitFor('the refusal', () => document.getElementById('login-error')!.textContent!.includes('refused'));
      assert.equal(await page.evaluate(() => document.getElementById('main')!.hidden), true, 'a wrong token gets the login page again');
      assert.equal((await text()).includes('ghost'), false, 'and no data');
      assert.equal(page.url().includes('token'), false);
      // the whole kubeconfig may be pasted: the page takes its token
      await login(readFileSync(s.kubeconfig, 'utf8'));
      // a click as a user's lands: on the button as the list shows it at that moment (the list
      // is redrawn on every watch event, so a handle taken a moment before may be gone)
      const choose = (name: string) => page.evaluate((n) => document.querySelector<HTMLButtonElement>(`#pods button[data-pod="${n}"]`)!.click(), name);
      const listed = (name: string) => page.evaluate((n) => [...document.querySelectorAll<HTMLButtonElement>('#pods button')].some((b) => b.dataset.pod === n), name);
      await waitFor('the pod list', () => [...document.querySelectorAll<HTMLButtonElement>('#pods button')].some((b) => b.dataset.pod === 'default/ghost'));
      assert.equal(page.url().includes(s.token), false, 'the token is never in the URL');
      // a pod made after the page opened shows within 2 s
      apply(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late"}, "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}`);
      const t0 = Date.now();
      await waitFor('the new pod in the list', () => [...document.querySelectorAll<HTMLButtonElement>('#pods button')].some((b) => b.dataset.pod === 'default/late'), 2000);
      assert.ok(Date.now() - t0 <= 2000, `listed after ${Date.now() - t0} ms`);
      assert.equal(await listed('default/late'), true);
      // and its diagram, once it runs (the page refreshes the chosen pod as its watch events come)
      await choose('default/late');
      await waitFor('the new pod\'s diagram with its container', () => {
        const i = document.getElementById('diagram') as HTMLImageElement | null;
        return i && i.complete && i.naturalWidth > 300 && document.getElementById('detail')!.innerText.includes('pod default/late · Running') && decodeURIComponent(i.src).includes('>c<');
      }, 30_000);
      // choose the seed-shaped pod: its diagram (the SVG as an image) and its tables
      await choose('default/ghost');
      await waitFor('the diagram', () => {
        const i = document.getElementById('diagram') as HTMLImageElement | null;
        return i && i.complete && i.naturalWidth > 300 && i.alt === 'diagram of pod default/ghost';
      }, 15_000);
      const detail = await page.evaluate(() => document.getElementById('detail')!.innerText);
      for (const want of ['pod default/ghost', BRIDGE, 'nginx', `PODBAY-HP-${BRIDGE}`, 'conmon', 'nginx-config']) assert.ok(detail.includes(want), `the page shows ${want}:\n${detail}`);
      // what the screenshot will show: the pod named on the page, its diagram drawn in view
      assert.ok((await text()).includes('pod default/ghost'));
      const box = await (await page.$('#diagram'))!.boundingBox();
      assert.ok(box && box.width > 300 && box.height > 100, `the diagram is laid out: ${JSON.stringify(box)}`);
      const png = Buffer.from(await page.screenshot({ path: join(process.env.EXPLAIN_DUMP ?? suite.work, 'webview.png') as `${string}.png`, fullPage: true }));
      assertRealScreenshot(png);
      // a pod going away leaves the list
      ok('delete', 'pod', 'late', '--grace-period=0', '--force');
      await waitFor('the deleted pod gone from the list', () => ![...document.querySelectorAll<HTMLButtonElement>('#pods button')].some((b) => b.dataset.pod === 'default/late'), 30_000);
    });
  });

  it('discovery: kubectl 1.27 and 1.33 list podexplains in api-resources and read one with get --raw; get all is unchanged', () => {
    for (const kx of kubectlBinaries()) {
      const run = (...args: string[]) => {
        const r = s.kubectl(kx.path, args);
        assert.equal(r.code, 0, `${kx.name} ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, '', `${kx.name} ${args.join(' ')} warns of nothing (a discovery failure shows there)`);
        return r.stdout;
      };
      const res = run('api-resources', '-o', 'wide', '--no-headers');
      assert.match(res, /^podexplains\s+podbay\.io\/v1alpha1\s+true\s+PodExplain\s+get\s*$/m, `${kx.name}:\n${res}`);
      assert.match(res, /^pods\s+po\s+v1\s+true\s+Pod\s/m, 'the core resources are still listed');
      assert.equal(run('api-resources', '--api-group=podbay.io', '--no-headers', '-o', 'name').trim(), 'podexplains.podbay.io');
      const raw = JSON.parse(run('get', '--raw', '/apis/podbay.io/v1alpha1/namespaces/default/podexplains/ghost'));
      assert.equal(raw.kind, 'PodExplain');
      assert.deepEqual(raw.namespaces.rows.map((r: any) => r.name), ['pause', 'nginx', 'ghost']);
      const all = run('get', 'all', '--no-headers');
      // `all` spans several kinds since the workload groups are served, so kubectl names each row's kind
      assert.match(all, /^pod\/ghost\s+2\/2\s+Running\s/m, `${kx.name} get all:\n${all}`);
      assert.doesNotMatch(all, /podexplain/i, 'podexplains are in no category');
    }
  });

  it('a pod that does not exist: NotFound as kubectl words it', async () => {
    const r = explain('nosuch');
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): pods "nosuch" not found');
    assert.equal(r.stderr.trim(), k('get', 'pod', 'nosuch').stderr.trim(), 'worded as kubectl words it');
    const raw = await s.request('GET', '/apis/podbay.io/v1alpha1/namespaces/default/podexplains/nosuch');
    assert.equal(raw.status, 404);
    assert.equal(raw.json.reason, 'NotFound');
    const anon = await s.request('GET', '/apis/podbay.io/v1alpha1/namespaces/default/podexplains/ghost', { token: 'wrong' });
    assert.equal(anon.status, 401, 'the same bearer-token authentication');
  });

  it('not root: the CLI says root is needed on the node; a server without a kubelet says it cannot explain', async () => {
    const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', PODBAY, 'explain', 'pod', 'ghost', '--kubeconfig', s.kubeconfig], { encoding: 'utf8' });
    assert.equal(asNobody.status, 1, asNobody.stdout);
    assert.match(asNobody.stderr, /^podbay explain: cannot read the kubeconfig .* \(permission denied\): explaining a pod needs root on the node/);
    const apiOnly = await PodbayServer.start(['--no-kubelet', '--store', 'memory']);
    try {
      const r = apiOnly.kubectl(kc.path, ['run', 'p', '--image=busybox:1.36']);
      assert.equal(r.code, 0, r.stderr);
      const e = spawnSync(PODBAY, ['explain', 'pod', 'p', '--kubeconfig', apiOnly.kubeconfig], { encoding: 'utf8' });
      assert.equal(e.status, 1);
      assert.equal(e.stderr.trim(), 'Error from server (ServiceUnavailable): explain needs the node: this podbay server runs no kubelet (--no-kubelet), and running pods needs root on the node');
    } finally {
      await apiOnly.teardown();
    }
  });

  it('a pod not running yet: says which parts do not exist and why', async () => {
    apply(`
apiVersion: v1
kind: Pod
metadata: {name: unpulled}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: app, image: 'nosuch.invalid/none:1', imagePullPolicy: Never}]
`);
    await waitFor('unpulled waiting', () => pod('unpulled').status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImageNeverPull' || undefined, 60_000);
    const e = explainJson('unpulled');
    const app = e.missing.find((m) => m.part.startsWith('container app'));
    assert.ok(app, JSON.stringify(e.missing));
    assert.match(app.why, /waiting \(ErrImageNeverPull/);
    assert.deepEqual(e.namespaces.rows.map((r) => r.name), ['pause'], 'the sandbox exists, the container does not');
    const r = explain('unpulled');
    assert.equal(r.status, 0, r.stderr);
    fits80(r.stdout);
    assert.match(r.stdout, /Parts of this pod do not exist yet/);
    assert.match(r.stdout, /container app .*ErrImageNeverPull/s);
    // not scheduled at all: its hostPort is the ghost pod's
    apply(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "clash"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "ports": [{"containerPort": 80, "hostPort": ${HOST_PORT}}]}]}}`);
    await waitFor('clash unschedulable', () => (pod('clash').status?.conditions ?? []).some((c: any) => c.type === 'PodScheduled' && c.reason === 'Unschedulable') || undefined, 30_000);
    const clash = explainJson('clash');
    assert.equal(clash.missing.length, 1);
    assert.match(clash.missing[0]!.why, /^the pod is not scheduled to a node yet \(Unschedulable: .*free ports/);
    assert.deepEqual([clash.namespaces.rows, clash.processes, clash.network.natRules], [[], [], []]);
    ok('delete', 'pod', 'clash', '--wait=false');
  });

  it("a hostNetwork pod: says it shares the host's network namespace, and shows it", async () => {
    apply(`
apiVersion: v1
kind: Pod
metadata: {name: onhost}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers: [{name: app, image: busybox:1.36, command: [sleep, '3600']}]
`);
    await running('onhost');
    const links = () => (JSON.parse(sh('ip', ['-j', 'link'])) as any[]).map((l) => String(l.ifname));
    const before = links();
    const e = explainJson('onhost');
    const after = links();
    assert.equal(e.hostNetwork, true);
    const hostNet = Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))![1]);
    assert.equal(e.network.netnsInode, hostNet);
    for (const r of e.namespaces.rows) assert.equal(r.ns.net!.inode, hostNet, `${r.name} is in the host's netns`);
    assert.equal(e.network.veth, undefined);
    assert.deepEqual(e.network.natRules, []);
    // the host's interfaces (other suites' veths and bridges come and go meanwhile: every
    // link there before and after is shown, and nothing shown was in neither)
    const shown = e.network.interfaces.map((i) => i.name);
    for (const n of before.filter((x) => after.includes(x))) assert.ok(shown.includes(n), `host interface ${n} is shown`);
    for (const n of shown) assert.ok(before.includes(n) || after.includes(n), `${n} is a host interface`);
    assert.ok(e.network.interfaces.some((i) => i.name === BRIDGE), 'the pod sees the host bridge itself');
    const r = explain('onhost');
    assert.equal(r.status, 0, r.stderr);
    fits80(r.stdout);
    assert.match(r.stdout.replace(/\s+/g, ' '), /uses the host's network namespace \(hostNetwork: true\): its net namespace is the host's \(inode \d+, the same as the node's\)/);
  });
});
