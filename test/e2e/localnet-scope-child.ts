/**
 * Run by attacks-network.test.ts inside a scratch network namespace (`unshare --net`), where
 * route_localnet can be 0 host-wide whatever the real host has:
 *   - does a hostPort answer on 127.0.0.1 with route_localnet only on podbay's bridge (the
 *     hostport manager sets it there), and not without it?
 *   - two pod networks on one host (two podbay servers, two bridges): destroying one removes
 *     its own guard only; the other's guard and hostPort stay.
 * Prints one JSON object with what it saw; the test asserts on it. Argument: a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/sys/exec.js';
import { CniPodNetwork } from '../../src/network/pod-network.js';
import { httpGet, until } from './harness.js';

const T = process.argv[2]!;
const BRIDGE = 'pbnetsec0';
const OTHER_BRIDGE = 'pbnetsec1';
const PORT = 19730;
const OTHER_PORT = 19731;
const sysctl = (dev: string) => `/proc/sys/net/ipv4/conf/${dev}/route_localnet`;
const read = (dev: string) => readFileSync(sysctl(dev), 'utf8').trim();
const get = (port: number) => httpGet(`http://127.0.0.1:${port}/`, 1500).then((r) => r.body, (e: Error) => `error: ${e.message}`);
const answer = (port: number) =>
  until(`hostPort ${port} on 127.0.0.1`, async () => {
    const body = await get(port);
    if (body.startsWith('error')) throw new Error(body);
    return body;
  }, 5000).catch((e: Error) => `error: ${e.message}`);
const filter = async () => (await run('iptables-save', ['-t', 'filter'])).stdout;

function network(bridge: string, podCidr: string): CniPodNetwork {
  return new CniPodNetwork({ runDir: join(T, bridge, 'run'), confDir: join(T, bridge, 'conf'), binDirs: ['/usr/lib/cni', '/opt/cni/bin'], networkName: `scope-${bridge}`, bridge, podCidr });
}

/** a pod on `net` with `hostPort` -> busybox httpd on :8080 saying `text` */
async function webPod(net: CniPodNetwork, id: string, hostPort: number, text: string): Promise<ChildProcess> {
  const att = await net.setUp({ sandboxId: id, podName: id, podNamespace: 'netsec', podUid: `uid-${id}`, portMappings: [{ hostPort, containerPort: 8080, protocol: 'tcp' }] });
  const www = join(T, `www-${id}`);
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), text);
  return spawn('nsenter', [`--net=${att.netnsPath}`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
}

async function kill(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

async function destroy(net: CniPodNetwork, out: Record<string, unknown>, key: string): Promise<void> {
  for (const id of await net.list()) await net.tearDown(id).catch((e: Error) => (out[`${key}TearDownError`] = e.message));
  await net.destroy().catch((e: Error) => (out[`${key}DestroyError`] = e.message));
}

async function main(): Promise<Record<string, unknown>> {
  await run('ip', ['link', 'set', 'lo', 'up']);
  writeFileSync(sysctl('all'), '0');
  writeFileSync(sysctl('default'), '0');
  const a = network(BRIDGE, '10.212.0.0/25');
  const b = network(OTHER_BRIDGE, '10.212.0.128/25');
  const out: Record<string, unknown> = {};
  const pods: ChildProcess[] = [];
  try {
    pods.push(await webPod(a, 'scope', PORT, 'pod answers\n'));
    pods.push(await webPod(b, 'other', OTHER_PORT, 'other pod answers\n'));
    out.all = read('all');
    out.bridge = read(BRIDGE);
    out.withBridge = await answer(PORT);
    out.filterWhileUp = await filter();
    writeFileSync(sysctl(BRIDGE), '0');
    out.withoutBridge = await get(PORT);
    writeFileSync(sysctl(BRIDGE), '1');
    out.bridgeAgain = await get(PORT);

    // the first "server" goes away; the second keeps its guard and its hostPort
    await kill(pods[0]);
    await destroy(a, out, 'a');
    out.filterAfterFirstDestroy = await filter();
    out.firstBridgeAfterDestroy = existsSync(`/sys/class/net/${BRIDGE}`);
    out.otherStillAnswers = await answer(OTHER_PORT);
  } finally {
    for (const p of pods) await kill(p);
    await destroy(a, out, 'a');
    await destroy(b, out, 'b');
  }
  out.filterAfterDestroy = await filter();
  out.bridgesAfterDestroy = [BRIDGE, OTHER_BRIDGE].filter((br) => existsSync(`/sys/class/net/${br}`));
  out.allAfterDestroy = read('all');
  return out;
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (e: Error) => {
    process.stdout.write(JSON.stringify({ error: e.stack ?? e.message }) + '\n');
    process.exitCode = 1;
  },
);
