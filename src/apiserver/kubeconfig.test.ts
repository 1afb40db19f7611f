import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { CONTEXT_NAME, loadKubeconfig, renderKubeconfig } from './kubeconfig.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** what the yaml package wrote before the kubeconfig was rendered by hand */
function viaYamlPackage(server: string, caPem: string, token: string): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT_NAME, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'podbay-admin', user: { token } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: 'podbay-admin', namespace: 'default' } }],
    'current-context': CONTEXT_NAME,
    preferences: {},
  });
}

test('renderKubeconfig writes what the yaml package wrote for the servers and tokens podbay makes', () => {
  for (const server of ['https://127.0.0.1:6443', 'https://[::1]:6443', 'https://node-1.example:443']) {
    const token = 'a3f9c2e1b0d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6';
    assert.equal(renderKubeconfig(server, CA, token), viaYamlPackage(server, CA, token));
  }
});

test('renderKubeconfig quotes what YAML would read as something else, and reads back exactly', () => {
  for (const token of ['123456', 'true', 'null', '~', 'a: b', '#x', 'x #y', '-', 'a"b\\c', '', 'tok:', '[x]', '0x1f', '.5', 'é']) {
    const text = renderKubeconfig('https://127.0.0.1:6443', CA, token);
    const doc = YAML.parse(text);
    assert.equal(doc.users[0].user.token, token, text);
    assert.equal(doc.clusters[0].cluster.server, 'https://127.0.0.1:6443');
    assert.equal(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), CA);
  }
});

test('loadKubeconfig reads the rendered file back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
  try {
    const path = join(dir, 'kubeconfig.yaml');
    writeFileSync(path, renderKubeconfig('https://[::1]:6443', CA, 'tok'));
    const cfg = loadKubeconfig(path);
    assert.equal(cfg.server, 'https://[::1]:6443');
    assert.equal(cfg.token, 'tok');
    assert.equal(cfg.caPem, CA);
    assert.equal(cfg.namespace, 'default');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
