import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validationErrorText } from './field.js';
import { validatePodSecurity, validatePodSecurityAnnotations } from './pod-security.js';

const errs = (spec: Record<string, any>) => validatePodSecurity(spec).map(validationErrorText);
const ctr = (securityContext: Record<string, any>) => ({ name: 'c', image: 'i', securityContext });

test('hostUsers false is refused; procMount Unmasked needs it', () => {
  assert.deepEqual(errs({ hostUsers: false, containers: [] }), ['spec.hostUsers: Forbidden: podbay does not implement user namespaces: hostUsers must be true or unset']);
  assert.deepEqual(errs({ containers: [ctr({ procMount: 'Unmasked' })] }), ['spec.containers[0].securityContext.procMount: Forbidden: `hostUsers` must be false to use `Unmasked`']);
  assert.deepEqual(errs({ containers: [ctr({ procMount: 'Default' })] }), []);
});

test('appArmorProfile: type and localhostProfile', () => {
  assert.deepEqual(errs({ securityContext: { appArmorProfile: { type: 'Localhost' } }, containers: [] }), ['spec.securityContext.appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost']);
  assert.equal(errs({ containers: [ctr({ appArmorProfile: { type: 'Bogus' } })] }).length, 1);
  assert.match(errs({ initContainers: [ctr({ appArmorProfile: { type: 'RuntimeDefault', localhostProfile: 'x' } })], containers: [] })[0]!, /initContainers\[0\]\.securityContext\.appArmorProfile\.localhostProfile: Invalid value: "x": can only be set when AppArmor type is Localhost/);
  assert.deepEqual(errs({ containers: [ctr({ appArmorProfile: { type: 'Unconfined' } })] }), []);
});

test('windowsOptions: forbidden for os linux; hostProcess always refused', () => {
  assert.deepEqual(errs({ os: { name: 'linux' }, securityContext: { windowsOptions: { runAsUserName: 'u' } }, containers: [] }), ['spec.securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod']);
  assert.match(errs({ containers: [ctr({ windowsOptions: { hostProcess: true } })] })[0]!, /^spec\.containers\[0\]\.securityContext\.windowsOptions\.hostProcess: Forbidden: podbay runs Linux containers/);
  assert.deepEqual(errs({ containers: [ctr({ windowsOptions: { runAsUserName: 'u' } })] }), []);
});

test('deprecated seccomp and AppArmor annotations are validated', () => {
  const anns = (annotations: Record<string, string>) =>
    validatePodSecurityAnnotations({ metadata: { annotations }, spec: { containers: [{ name: 'c' }] } }).map(validationErrorText);
  assert.deepEqual(anns({ 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default', 'container.seccomp.security.alpha.kubernetes.io/c': 'localhost/p.json' }), []);
  assert.deepEqual(anns({ 'seccomp.security.alpha.kubernetes.io/pod': 'strict' }), ['metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: Invalid value: "strict": must be a valid seccomp profile']);
  assert.match(anns({ 'seccomp.security.alpha.kubernetes.io/pod': 'localhost/../x' })[0]!, /must not contain '\.\.'/);
  assert.deepEqual(anns({ 'container.apparmor.security.beta.kubernetes.io/c': 'runtime/default' }), []);
  assert.match(anns({ 'container.apparmor.security.beta.kubernetes.io/nope': 'runtime/default' })[0]!, /Invalid value: "nope": container not found/);
  assert.match(anns({ 'container.apparmor.security.beta.kubernetes.io/c': 'enforce' })[0]!, /invalid AppArmor profile name/);
});

test('supplementalGroupsPolicy: Merge or Strict', () => {
  assert.deepEqual(errs({ securityContext: { supplementalGroupsPolicy: 'Strict' }, containers: [] }), []);
  assert.match(errs({ securityContext: { supplementalGroupsPolicy: 'Loose' }, containers: [] })[0]!, /^spec\.securityContext\.supplementalGroupsPolicy: Unsupported value: "Loose"/);
});
