import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointsFor, parseDockerConfig, parseRegistriesYaml, RegistriesConfigError } from './registries.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test("k3s's registries.yaml: mirrors and configs (auth as fields or base64, tls)", () => {
  const cfg = parseRegistriesYaml(
    `mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
configs:
  "127.0.0.1:5000":
    auth:
      username: u
      password: p
  "reg.example.com":
    auth:
      auth: ${b64('x:y:z')}
    tls:
      insecure_skip_verify: true
`,
    'registries.yaml',
  );
  assert.deepEqual(cfg.mirrors, { 'docker.io': ['http://127.0.0.1:5000'] });
  assert.deepEqual(cfg.configs['127.0.0.1:5000'].auth, { username: 'u', password: 'p' });
  assert.deepEqual(cfg.configs['reg.example.com'], { auth: { username: 'x', password: 'y:z' }, tls: { insecureSkipVerify: true } });
});

test('registries.yaml mistakes are named', () => {
  assert.throws(() => parseRegistriesYaml('mirror: {}', 'f.yaml'), (e: unknown) => e instanceof RegistriesConfigError && /unknown key "mirror"/.test(e.message));
  assert.throws(() => parseRegistriesYaml('mirrors: {docker.io: {endpoint: "http://x"}}', 'f.yaml'), /mirrors.docker.io.endpoint must be a list/);
  assert.throws(() => parseRegistriesYaml('mirrors: {docker.io: {endpoint: ["ftp://x"]}}', 'f.yaml'), /only http/);
  assert.throws(() => parseRegistriesYaml('configs: {h: {auth: {}}}', 'f.yaml'), /no usable credentials/);
});

test('endpoints: mirrors first, then the host; with the default endpoint disabled a mirrored docker.io is never contacted', async () => {
  const cfg = parseRegistriesYaml('mirrors: {docker.io: {endpoint: ["http://127.0.0.1:5000"]}}', 'f');
  assert.deepEqual((await endpointsFor('docker.io', cfg)).map((e) => e.url), ['http://127.0.0.1:5000', 'https://registry-1.docker.io']);
  assert.deepEqual((await endpointsFor('docker.io', cfg, { disableDefaultEndpoint: true })).map((e) => e.url), ['http://127.0.0.1:5000']);
  // loopback registries may speak plain HTTP without configuration; others only over https
  assert.deepEqual((await endpointsFor('127.0.0.1:5001', cfg)).map((e) => e.url), ['https://127.0.0.1:5001', 'http://127.0.0.1:5001']);
  assert.deepEqual((await endpointsFor('reg.example.com', cfg)).map((e) => e.url), ['https://reg.example.com']);
});

test('credentials: pod secrets first, then registries.yaml; looked up by the endpoint host, never the mirrored one', async () => {
  const cfg = parseRegistriesYaml('mirrors: {docker.io: {endpoint: ["http://127.0.0.1:5000"]}}\nconfigs: {"127.0.0.1:5000": {auth: {username: node, password: n}}}', 'f');
  const secret = parseDockerConfig(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:h') }, '127.0.0.1:5000': { username: 'pod', password: 'p' } } }), 'secret');
  assert.deepEqual(secret.get('docker.io'), { username: 'hub', password: 'h' });
  const eps = await endpointsFor('docker.io', cfg, { credentials: [secret] });
  assert.deepEqual(eps[0].credentials, { username: 'pod', password: 'p' });
  assert.deepEqual(eps[1].credentials, { username: 'hub', password: 'h' });
  const nodeOnly = await endpointsFor('docker.io', cfg, {});
  assert.deepEqual(nodeOnly[0].credentials, { username: 'node', password: 'n' });
  assert.equal(nodeOnly[1].credentials, undefined);
});

test('PODBAY_LOOPBACK_REGISTRIES_ONLY=1 keeps only loopback endpoints, and refuses when none is left', async () => {
  const cfg = parseRegistriesYaml('mirrors: {docker.io: {endpoint: ["http://127.0.0.1:5000"]}}', 'f');
  const env = { PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' };
  assert.deepEqual((await endpointsFor('docker.io', cfg, { env })).map((e) => e.url), ['http://127.0.0.1:5000']);
  await assert.rejects(endpointsFor('quay.io', cfg, { env }), /not contacting https:\/\/quay\.io: PODBAY_LOOPBACK_REGISTRIES_ONLY=1/);
});
