/**
 * securityContext on the kubelet's side: the pod- and container-level settings merged
 * (DetermineEffectiveSecurityContext: the container's field wins), checked the way the kubelet
 * checks them before it asks the runtime for a container, and turned into the runtime's
 * ContainerSecurity. A container the node cannot run as asked fails with
 * CreateContainerConfigError (a ConfigError here) and the kubelet's words; a pod it cannot admit
 * at all (AppArmor on a host without it) is rejected by admitSecurity.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './env.js';
import { parseSeccompProfile } from '../runtime/seccomp.js';
import type { ContainerSecurity, SeccompProfile } from '../runtime/types.js';

type Obj = Record<string, any>;

/** the fields a container inherits from the pod's securityContext (PodSecurityContext) */
const INHERITED = ['runAsUser', 'runAsGroup', 'runAsNonRoot', 'seLinuxOptions', 'seccompProfile', 'appArmorProfile', 'windowsOptions'] as const;

export function effectiveSecurityContext(pod: Obj, container: Obj): Obj {
  const podSc: Obj = pod.spec?.securityContext ?? {};
  const sc: Obj = { ...(container.securityContext ?? {}) };
  for (const f of INHERITED) if (sc[f] === undefined || sc[f] === null) if (podSc[f] !== undefined && podSc[f] !== null) sc[f] = podSc[f];
  return sc;
}

/** format.Pod: NAME_NAMESPACE(UID) */
export function formatPod(pod: Obj): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

/** "uid[:gid]" for the runtime from runAsUser/runAsGroup, or undefined to keep the image's user */
export function userSpec(sc: Obj, imageUser: string | undefined): string | undefined {
  const uid = sc.runAsUser;
  const gid = sc.runAsGroup;
  if (uid === undefined || uid === null) {
    if (gid === undefined || gid === null) return imageUser || undefined;
    // runAsGroup alone: the image's user with that group (containerd's WithUserID keeps the user)
    const u = (imageUser ?? '').split(':')[0] || '0';
    return `${u}:${gid}`;
  }
  return gid === undefined || gid === null ? String(uid) : `${uid}:${gid}`;
}

/**
 * verifyRunAsNonRoot (pkg/kubelet/kuberuntime/security_context_others.go): with runAsNonRoot,
 * an explicit runAsUser must not be 0, and otherwise the image's user must be numeric and not 0
 * (no user in the image means root). Returns the kubelet's message, or undefined.
 */
export function verifyRunAsNonRoot(pod: Obj, container: Obj, imageUser: string | undefined): string | undefined {
  const sc = effectiveSecurityContext(pod, container);
  if (sc.runAsNonRoot !== true) return undefined;
  const where = `(pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`;
  if (typeof sc.runAsUser === 'number') return sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  const user = (imageUser ?? '').split(':')[0]!;
  if (user && !/^[0-9]+$/.test(user)) return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${where}`;
  if (!user || Number(user) === 0) return `container has runAsNonRoot and image will run as root ${where}`;
  return undefined;
}

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';

/** a deprecated seccomp annotation value as a seccompProfile field */
export function seccompFromAnnotation(v: string | undefined): Obj | undefined {
  if (v === undefined) return undefined;
  if (v === 'runtime/default' || v === 'docker/default') return { type: 'RuntimeDefault' };
  if (v === 'unconfined') return { type: 'Unconfined' };
  if (v.startsWith('localhost/')) return { type: 'Localhost', localhostProfile: v.slice('localhost/'.length) };
  return undefined;
}

/**
 * The seccomp profile the container asks for: its field, the pod's, then the deprecated
 * annotations (which the API server copies into the fields for pods that only have those).
 * Undefined (no profile) is Unconfined, the kubelet's default.
 */
export function seccompField(pod: Obj, container: Obj): Obj | undefined {
  const sc = effectiveSecurityContext(pod, container);
  if (sc.seccompProfile) return sc.seccompProfile;
  const ann: Obj = pod.metadata?.annotations ?? {};
  return seccompFromAnnotation(ann[SECCOMP_CONTAINER_ANNOTATION + container.name]) ?? seccompFromAnnotation(ann[SECCOMP_POD_ANNOTATION]);
}

/** The profile for the runtime; a Localhost profile is read from `seccompRoot` (the kubelet's seccomp dir). */
export async function resolveSeccomp(field: Obj | undefined, seccompRoot: string): Promise<SeccompProfile | undefined> {
  if (!field || field.type === 'Unconfined') return undefined;
  if (field.type === 'RuntimeDefault') return { type: 'RuntimeDefault' };
  if (field.type !== 'Localhost') throw new ConfigError(`seccomp profile type ${JSON.stringify(field.type)} is not supported`);
  const path = join(seccompRoot, String(field.localhostProfile ?? ''));
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(`failed to generate seccomp spec opts: cannot load seccomp profile ${JSON.stringify(path)}: open ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  }
  try {
    return { type: 'Localhost', path, profile: parseSeccompProfile(text) };
  } catch (e) {
    throw new ConfigError(`failed to generate seccomp spec opts: seccomp profile ${JSON.stringify(path)} is invalid: ${(e as Error).message}`);
  }
}

export interface HostSecurity {
  /** the kernel has AppArmor enabled */
  appArmor: boolean;
  /** the kernel has SELinux enabled */
  seLinux: boolean;
}

/**
 * Everything of the securityContext the runtime applies beyond user/privileged/readOnly/caps.
 * Throws ConfigError (CreateContainerConfigError) for what this node cannot do as asked.
 */
export async function containerSecurity(pod: Obj, container: Obj, imageUser: string | undefined, opts: { seccompRoot: string; host: HostSecurity }): Promise<{ user?: string; security: ContainerSecurity }> {
  const nonRoot = verifyRunAsNonRoot(pod, container, imageUser);
  if (nonRoot) throw new ConfigError(nonRoot);
  const sc = effectiveSecurityContext(pod, container);
  if (sc.seLinuxOptions && Object.values(sc.seLinuxOptions as Obj).some((v) => v)) {
    throw new ConfigError(
      opts.host.seLinux
        ? `seLinuxOptions of container ${container.name} cannot be applied: podbay does not implement SELinux labels`
        : `seLinuxOptions of container ${container.name} cannot be applied: SELinux is not enabled on this node`,
    );
  }
  const aa = appArmorField(pod, container);
  if (aa && aa.type !== 'Unconfined' && opts.host.appArmor) {
    // admission already refused these where AppArmor is off; where it is on, podbay has no default profile to load
    if (aa.type !== 'Localhost') throw new ConfigError(`appArmorProfile ${aa.type} of container ${container.name} cannot be applied: podbay has no AppArmor default profile to load; use Localhost or Unconfined`);
  }
  const podSc: Obj = pod.spec?.securityContext ?? {};
  const groups: number[] = [...((podSc.supplementalGroups ?? []) as number[])];
  if (typeof podSc.fsGroup === 'number') groups.push(podSc.fsGroup);
  const security: ContainerSecurity = {
    ...(container.securityContext?.allowPrivilegeEscalation === false ? { noNewPrivileges: true } : {}),
    ...(groups.length ? { supplementalGroups: groups } : {}),
    ...(podSc.supplementalGroupsPolicy === 'Strict' ? { supplementalGroupsPolicy: 'Strict' as const } : {}),
  };
  const seccomp = await resolveSeccomp(seccompField(pod, container), opts.seccompRoot);
  if (seccomp) security.seccomp = seccomp;
  if (aa?.type === 'Localhost' && opts.host.appArmor) security.appArmorProfile = String(aa.localhostProfile);
  return { user: userSpec(sc, imageUser), security };
}

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** the AppArmor profile a container asks for: its field, the pod's, then the beta annotation */
export function appArmorField(pod: Obj, container: Obj): Obj | undefined {
  const sc = effectiveSecurityContext(pod, container);
  if (sc.appArmorProfile) return sc.appArmorProfile;
  const v: string | undefined = pod.metadata?.annotations?.[APPARMOR_ANNOTATION + container.name];
  if (v === undefined) return undefined;
  if (v === 'runtime/default') return { type: 'RuntimeDefault' };
  if (v === 'unconfined') return { type: 'Unconfined' };
  if (v.startsWith('localhost/')) return { type: 'Localhost', localhostProfile: v.slice('localhost/'.length) };
  return { type: v };
}

/**
 * The kubelet's AppArmor admit handler: a pod asking for any profile but Unconfined on a host
 * without AppArmor is rejected (reason "AppArmor"). Returns the message, or undefined.
 */
export function admitAppArmor(pod: Obj, host: HostSecurity): string | undefined {
  if (host.appArmor) return undefined;
  const all = [...((pod.spec.initContainers ?? []) as Obj[]), ...((pod.spec.containers ?? []) as Obj[])];
  const required = all.some((c) => {
    const p = appArmorField(pod, c);
    return p && p.type !== 'Unconfined';
  });
  return required ? 'Cannot enforce AppArmor: AppArmor is not enabled on the host' : undefined;
}

/** what the kernel offers (checked once at start) */
export async function detectHostSecurity(): Promise<HostSecurity> {
  const aa = await readFile('/sys/module/apparmor/parameters/enabled', 'utf8').catch(() => '');
  const se = await readFile('/sys/fs/selinux/enforce', 'utf8').catch(() => undefined);
  return { appArmor: aa.startsWith('Y'), seLinux: se !== undefined };
}
