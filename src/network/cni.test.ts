import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addNetworkList,
  cniArgsString,
  cniEnv,
  CniError,
  delNetworkList,
  findPlugin,
  k8sArgs,
  parsePluginError,
  pluginStdin,
  type CniConfList,
  type CniRuntimeConf,
} from './cni.js';

const rt: CniRuntimeConf = {
  containerId: 'sb1',
  netns: '/run/x/netns/sb1',
  ifName: 'eth0',
  args: k8sArgs({ podNamespace: 'default', podName: 'web', sandboxId: 'sb1', podUid: 'u-1' }),
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
};

test('CNI_ARGS: IgnoreUnknown first, then the Kubernetes pod keys', () => {
  assert.equal(cniArgsString(rt.args), 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u-1');
  assert.equal(cniArgsString({}), 'IgnoreUnknown=1');
  assert.throws(() => cniArgsString({ A: 'x;y' }), /may not contain ";"/);
});

test('plugin env: CNI_* set from the runtime conf, stale CNI_* dropped, PATH kept', () => {
  const env = cniEnv('ADD', rt, ['/usr/lib/cni', '/opt/cni/bin'], { PATH: '/bin', CNI_STALE: 'x', HOME: '/root' });
  assert.deepEqual(env, {
    PATH: '/bin',
    HOME: '/root',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'sb1',
    CNI_NETNS: '/run/x/netns/sb1',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u-1',
    CNI_PATH: '/usr/lib/cni:/opt/cni/bin',
  });
  assert.match(cniEnv('DEL', { ...rt, netns: '' }, ['/a'], {}).PATH!, /\/usr\/sbin/);
  assert.equal(cniEnv('DEL', { ...rt, netns: '' }, ['/a'], {}).CNI_NETNS, '');
});

test('plugin stdin: list name and version, runtimeConfig only for declared capabilities, prevResult', () => {
  const list: CniConfList = { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'bridge', bridge: 'br0' }, { type: 'portmap', snat: true, capabilities: { portMappings: true } }] };
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] };
  assert.deepEqual(pluginStdin(list, list.plugins[0]!, rt.capabilityArgs), { type: 'bridge', bridge: 'br0', cniVersion: '1.0.0', name: 'net1' });
  assert.deepEqual(pluginStdin(list, list.plugins[1]!, rt.capabilityArgs, prev), {
    type: 'portmap',
    snat: true,
    capabilities: { portMappings: true },
    cniVersion: '1.0.0',
    name: 'net1',
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    prevResult: prev,
  });
  // a capability the runtime has no value for is not sent; the list is not mutated
  assert.equal(pluginStdin(list, list.plugins[1]!, {}).runtimeConfig, undefined);
  assert.equal((list.plugins[1] as Record<string, unknown>).runtimeConfig, undefined);
  // a declared-off capability is not sent
  assert.equal(pluginStdin(list, { type: 'x', capabilities: { portMappings: false } }, rt.capabilityArgs).runtimeConfig, undefined);
});

test('plugin errors: the JSON error on stdout names plugin, verb, message, details and code', () => {
  const e = parsePluginError('bridge', 'ADD', 1, '{"cniVersion":"1.0.0","code":11,"msg":"failed to allocate","details":"range full"}', 'ignored');
  assert.ok(e instanceof CniError);
  assert.equal(e.plugin, 'bridge');
  assert.equal(e.code, 11);
  assert.equal(e.msg, 'failed to allocate');
  assert.equal(e.message, 'CNI plugin bridge ADD failed: failed to allocate (range full) [CNI error code 11]');
  assert.equal(parsePluginError('portmap', 'DEL', 2, 'not json', 'boom\n').message, 'CNI plugin portmap DEL failed: exit 2: boom');
  assert.equal(parsePluginError('loopback', 'ADD', 1, '', '').message, 'CNI plugin loopback ADD failed: exit 1 with no output');
  assert.equal(parsePluginError('x', 'CHECK', null, '{"foo":1}', '').message, 'CNI plugin x CHECK failed: exit signal: {"foo":1}');
});

test('a missing plugin binary names the Debian package', async () => {
  await assert.rejects(findPlugin('bridge', ['/nonexistent/podbay-a', '/nonexistent/podbay-b']), {
    message: 'CNI plugin "bridge" not found in /nonexistent/podbay-a, /nonexistent/podbay-b: install the Debian package containernetworking-plugins',
  });
  await assert.rejects(findPlugin('../sh', ['/bin']), /invalid CNI plugin type/);
});

test('findPlugin: a plugin found is remembered (one search for callers at once); a missing one is looked for again', async () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-cni-find-'));
  try {
    const [a, b] = [join(d, 'a'), join(d, 'b')];
    await assert.rejects(findPlugin('fake', [a, b]), /not found/);
    for (const x of [a, b]) {
      mkdirSync(x);
      writeFileSync(join(x, 'fake'), '#!/bin/sh\n', { mode: 0o755 });
    }
    const [p1, p2] = await Promise.all([findPlugin('fake', [a, b]), findPlugin('fake', [a, b])]);
    assert.equal(p1, join(a, 'fake'));
    assert.equal(p2, p1);
    rmSync(join(a, 'fake'));
    assert.equal(await findPlugin('fake', [a, b]), join(a, 'fake'));
    assert.equal(await findPlugin('fake', [b]), join(b, 'fake'));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

// Fake plugins (small node scripts in a temp dir) that log what they were given.
const dir = mkdtempSync(join(tmpdir(), 'podbay-cni-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, 'log.jsonl');
function fakePlugin(name: string): void {
  const p = join(dir, name);
  writeFileSync(
    p,
    `#!${process.execPath}
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ plugin: ${JSON.stringify(name)}, cmd: process.env.CNI_COMMAND, ifname: process.env.CNI_IFNAME, conf }) + '\\n');
if (conf.fail === process.env.CNI_COMMAND) {
  process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: ${JSON.stringify(name)} + ' refused', details: 'as asked' }));
  process.exit(1);
}
if (process.env.CNI_COMMAND === 'ADD') {
  const prev = conf.prevResult || { cniVersion: '1.0.0', ips: [] };
  prev.ips = [...prev.ips, { address: '10.9.0.' + (prev.ips.length + 2) + '/24' }];
  process.stdout.write(JSON.stringify(prev));
}
`,
  );
  chmodSync(p, 0o755);
}
fakePlugin('fake-a');
fakePlugin('fake-b');
const readLog = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { plugin: string; cmd: string; conf: Record<string, unknown> });

test('ADD chains prevResult through the list; DEL runs in reverse with the cached result', async () => {
  writeFileSync(log, '');
  const list: CniConfList = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'fake-a' }, { type: 'fake-b', capabilities: { portMappings: true } }] };
  const result = await addNetworkList(list, rt, { binDirs: ['/nonexistent', dir] });
  assert.deepEqual(result.ips, [{ address: '10.9.0.2/24' }, { address: '10.9.0.3/24' }]);
  const errors = await delNetworkList(list, rt, { binDirs: [dir] }, result);
  assert.deepEqual(errors, []);
  const calls = readLog();
  assert.deepEqual(calls.map((c) => `${c.cmd} ${c.plugin}`), ['ADD fake-a', 'ADD fake-b', 'DEL fake-b', 'DEL fake-a']);
  assert.equal(calls[0]!.conf.prevResult, undefined);
  assert.deepEqual(calls[1]!.conf.prevResult, { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] });
  assert.deepEqual(calls[1]!.conf.runtimeConfig, rt.capabilityArgs);
  assert.deepEqual(calls[2]!.conf.prevResult, result);
  assert.deepEqual(calls[3]!.conf.prevResult, result);
});

test('ADD stops at the first failure with the plugin message; DEL keeps going and collects errors', async () => {
  writeFileSync(log, '');
  const bad: CniConfList = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'fake-a', fail: 'ADD' }, { type: 'fake-b' }] };
  await assert.rejects(addNetworkList(bad, rt, { binDirs: [dir] }), { name: 'CniError', message: 'CNI plugin fake-a ADD failed: fake-a refused (as asked) [CNI error code 7]' });
  assert.deepEqual(readLog().map((c) => `${c.cmd} ${c.plugin}`), ['ADD fake-a']);

  writeFileSync(log, '');
  const list: CniConfList = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'fake-a', fail: 'DEL' }, { type: 'missing-plugin' }, { type: 'fake-b', fail: 'DEL' }] };
  const errors = await delNetworkList(list, rt, { binDirs: [dir] });
  assert.deepEqual(
    errors.map((e) => e.message),
    [
      'CNI plugin fake-b DEL failed: fake-b refused (as asked) [CNI error code 7]',
      `CNI plugin "missing-plugin" not found in ${dir}: install the Debian package containernetworking-plugins`,
      'CNI plugin fake-a DEL failed: fake-a refused (as asked) [CNI error code 7]',
    ],
  );
  assert.deepEqual(readLog().map((c) => `${c.cmd} ${c.plugin}`), ['DEL fake-b', 'DEL fake-a']);
});
