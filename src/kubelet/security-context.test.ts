import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admitAppArmor, appArmorField, containerSecurity, effectiveSecurityContext, resolveSeccomp, seccompField, userSpec, verifyRunAsNonRoot } from './security-context.js';
import { ConfigError } from './env.js';

const NO_LSM = { appArmor: false, seLinux: false };
const podOf = (spec: Record<string, any>, annotations: Record<string, string> = {}) => ({ metadata: { name: 'p', namespace: 'ns', uid: 'U', annotations }, spec });
const c = (securityContext?: Record<string, any>) => ({ name: 'c', image: 'i', ...(securityContext ? { securityContext } : {}) });

test('effective securityContext: the container wins, the pod fills in', () => {
  const pod = podOf({ securityContext: { runAsUser: 1, runAsGroup: 2, runAsNonRoot: true, fsGroup: 9 } });
  assert.deepEqual(effectiveSecurityContext(pod, c({ runAsUser: 5 })), { runAsUser: 5, runAsGroup: 2, runAsNonRoot: true });
});

test('userSpec: runAsUser/runAsGroup over the image user; runAsGroup alone keeps the image user', () => {
  assert.equal(userSpec({}, 'www'), 'www');
  assert.equal(userSpec({}, undefined), undefined);
  assert.equal(userSpec({ runAsUser: 1000 }, 'www:www'), '1000');
  assert.equal(userSpec({ runAsUser: 1000, runAsGroup: 3000 }, undefined), '1000:3000');
  assert.equal(userSpec({ runAsGroup: 3000 }, 'www:staff'), 'www:3000');
  assert.equal(userSpec({ runAsGroup: 3000 }, undefined), '0:3000');
});

test("verifyRunAsNonRoot: the kubelet's messages", () => {
  const pod = podOf({ securityContext: { runAsNonRoot: true } });
  const where = '(pod: "p_ns(U)", container: c)';
  assert.equal(verifyRunAsNonRoot(pod, c(), undefined), `container has runAsNonRoot and image will run as root ${where}`);
  assert.equal(verifyRunAsNonRoot(pod, c(), '0:0'), `container has runAsNonRoot and image will run as root ${where}`);
  assert.equal(verifyRunAsNonRoot(pod, c(), 'nginx'), `container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root ${where}`);
  assert.equal(verifyRunAsNonRoot(pod, c(), '101:101'), undefined);
  assert.equal(verifyRunAsNonRoot(pod, c({ runAsUser: 0 }), '101'), `container's runAsUser breaks non-root policy ${where}`);
  assert.equal(verifyRunAsNonRoot(pod, c({ runAsUser: 7 }), undefined), undefined);
  assert.equal(verifyRunAsNonRoot(podOf({}), c(), undefined), undefined, 'not asked');
  assert.equal(verifyRunAsNonRoot(pod, c({ runAsNonRoot: false }), undefined), undefined, 'the container may allow root');
});

test('seccomp: field, then the deprecated annotations; Localhost read from the root, missing named', async () => {
  assert.deepEqual(seccompField(podOf({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }), c()), { type: 'RuntimeDefault' });
  assert.deepEqual(seccompField(podOf({}, { 'seccomp.security.alpha.kubernetes.io/pod': 'docker/default' }), c()), { type: 'RuntimeDefault' });
  assert.deepEqual(seccompField(podOf({}, { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default', 'container.seccomp.security.alpha.kubernetes.io/c': 'unconfined' }), c()), { type: 'Unconfined' });
  assert.deepEqual(seccompField(podOf({}, { 'container.seccomp.security.alpha.kubernetes.io/c': 'localhost/x.json' }), c()), { type: 'Localhost', localhostProfile: 'x.json' });
  assert.equal(seccompField(podOf({}), c()), undefined);
  const root = mkdtempSync(join(tmpdir(), 'podbay-seccomp-'));
  try {
    mkdirSync(join(root, 'p'));
    writeFileSync(join(root, 'p', 'ok.json'), '{"defaultAction":"SCMP_ACT_LOG"}');
    writeFileSync(join(root, 'bad.json'), '{');
    assert.deepEqual(await resolveSeccomp({ type: 'Localhost', localhostProfile: 'p/ok.json' }, root), { type: 'Localhost', path: join(root, 'p/ok.json'), profile: { defaultAction: 'SCMP_ACT_LOG', syscalls: [] } });
    await assert.rejects(resolveSeccomp({ type: 'Localhost', localhostProfile: 'nope.json' }, root), (e: Error) => e instanceof ConfigError && e.message.includes(`cannot load seccomp profile "${join(root, 'nope.json')}"`) && e.message.includes('no such file or directory'));
    await assert.rejects(resolveSeccomp({ type: 'Localhost', localhostProfile: 'bad.json' }, root), /is invalid: not valid JSON/);
    assert.equal(await resolveSeccomp({ type: 'Unconfined' }, root), undefined);
    assert.equal(await resolveSeccomp(undefined, root), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('containerSecurity: groups with fsGroup, Strict, noNewPrivileges only when false is said, SELinux refused', async () => {
  const pod = podOf({ securityContext: { supplementalGroups: [4000], fsGroup: 2000, supplementalGroupsPolicy: 'Strict', runAsUser: 1000 } });
  const r = await containerSecurity(pod, c({ allowPrivilegeEscalation: false }), 'www', { seccompRoot: '/nonexistent', host: NO_LSM });
  assert.equal(r.user, '1000');
  assert.deepEqual(r.security, { noNewPrivileges: true, supplementalGroups: [4000, 2000], supplementalGroupsPolicy: 'Strict' });
  assert.deepEqual((await containerSecurity(podOf({}), c({ allowPrivilegeEscalation: true }), undefined, { seccompRoot: '/x', host: NO_LSM })).security, {});
  await assert.rejects(containerSecurity(podOf({ securityContext: { seLinuxOptions: { level: 's0:c1' } } }), c(), undefined, { seccompRoot: '/x', host: NO_LSM }), /SELinux is not enabled on this node/);
  await assert.rejects(containerSecurity(podOf({ securityContext: { runAsNonRoot: true } }), c(), undefined, { seccompRoot: '/x', host: NO_LSM }), ConfigError);
  const aa = await containerSecurity(podOf({}), c({ appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-x' } }), undefined, { seccompRoot: '/x', host: { appArmor: true, seLinux: false } });
  assert.equal(aa.security.appArmorProfile, 'k8s-x');
  await assert.rejects(containerSecurity(podOf({}), c({ appArmorProfile: { type: 'RuntimeDefault' } }), undefined, { seccompRoot: '/x', host: { appArmor: true, seLinux: false } }), /no AppArmor default profile/);
});

test('AppArmor admission: anything but Unconfined needs AppArmor on the host', () => {
  const msg = 'Cannot enforce AppArmor: AppArmor is not enabled on the host';
  assert.equal(admitAppArmor(podOf({ containers: [c()] }), NO_LSM), undefined);
  assert.equal(admitAppArmor(podOf({ securityContext: { appArmorProfile: { type: 'Unconfined' } }, containers: [c()] }), NO_LSM), undefined);
  assert.equal(admitAppArmor(podOf({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } }, containers: [c()] }), NO_LSM), msg);
  assert.equal(admitAppArmor(podOf({ initContainers: [c({ appArmorProfile: { type: 'Localhost', localhostProfile: 'x' } })], containers: [] }), NO_LSM), msg);
  assert.equal(admitAppArmor(podOf({ containers: [c()] }, { 'container.apparmor.security.beta.kubernetes.io/c': 'runtime/default' }), NO_LSM), msg);
  assert.equal(admitAppArmor(podOf({ containers: [c()] }, { 'container.apparmor.security.beta.kubernetes.io/c': 'unconfined' }), NO_LSM), undefined);
  assert.equal(admitAppArmor(podOf({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } }, containers: [c()] }), { appArmor: true, seLinux: false }), undefined);
  assert.deepEqual(appArmorField(podOf({}, { 'container.apparmor.security.beta.kubernetes.io/c': 'localhost/k8s-x' }), c()), { type: 'Localhost', localhostProfile: 'k8s-x' });
});
