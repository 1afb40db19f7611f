/**
 * The kubelet's image manager (pkg/kubelet/images): before a container is created its image
 * must be present, following imagePullPolicy:
 *
 *   Never         present -> use it; else ErrImageNeverPull
 *   IfNotPresent  present -> use it ("already present on machine"); else pull
 *   Always        pull (a registry that has nothing new costs one manifest request)
 *
 * Pulls run in the background (ImagePuller, shared between pods asking for one image): the
 * pod's sync returns with the container waiting and is re-queued when the pull ends, so one
 * slow registry never holds up the kubelet's other pods. A failed pull shows ErrImagePull,
 * then ImagePullBackOff until the back-off (per pod and image: 10 s doubling to 300 s) allows
 * the next attempt. Events and messages are the kubelet's words.
 */
import type { Obj } from '../api/types.js';
import type { ImageRecord, ImageService } from '../image/types.js';
import type { ImagePuller } from '../image/pull.js';
import { parseDockerConfig, type CredentialStore } from '../image/registries.js';
import { parseReference } from '../image/reference.js';
import type { KubeletClient } from './client.js';
import type { Waiting } from './pod-status.js';

export const IMAGE_BACKOFF_START_MS = 10_000;
export const IMAGE_BACKOFF_MAX_MS = 300_000;
/** how long a fresh pull failure shows as ErrImagePull before ImagePullBackOff */
export const ERR_IMAGE_PULL_SHOWN_MS = 3_000;

export type Record = (pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string) => void;

export interface ImagePullManagerOptions {
  images: ImageService;
  /** absent: this node cannot pull (images come from `podbay image load` only) */
  puller?: ImagePuller;
  client: KubeletClient;
  record: Record;
  /** re-sync a pod (a pull it waits for ended) */
  enqueue: (uid: string) => void;
  log?: (line: string) => void;
  now?: () => number;
}

export type EnsureResult = { image: ImageRecord } | { waiting: Waiting; retryMs?: number };

interface PullState {
  running?: Promise<void>;
  /** set when a pull succeeded and the container has not used it yet */
  pulled?: ImageRecord;
  /** the last failure: shown as ErrImagePull for a few seconds, then as ImagePullBackOff */
  error?: string;
  failedAt: number;
  delayMs: number;
  retryAt: number;
}

/** Go's time.Duration String for what the kubelet prints: "350ms", "1.234s", "2m3.5s". */
export function goDuration(ms: number): string {
  const r = (x: number) => Number(x.toFixed(3)).toString();
  if (ms < 1000) return `${r(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${r(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${r(s - m * 60)}s`;
}

export class ImagePullManager {
  private readonly state = new Map<string, PullState>();
  /** pods whose imagePullSecrets were looked up (the warning for missing ones is given once per pod) */
  private readonly secretsChecked = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly opts: ImagePullManagerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The image for `spec` (a container of `pod`), or why the container waits. */
  async ensure(pod: Obj, spec: Obj, fieldPath: string): Promise<EnsureResult> {
    const imageName: string = spec.image;
    const uid: string = pod.metadata.uid;
    const key = `${uid}/${imageName}`;
    const policy: string = spec.imagePullPolicy ?? 'IfNotPresent';
    const record = (type: 'Normal' | 'Warning', reason: string, message: string) => this.opts.record(pod, type, reason, message, fieldPath);
    try {
      parseReference(imageName);
    } catch (e) {
      const message = `Failed to apply default image tag "${imageName}": couldn't parse image name "${imageName}": ${(e as Error).message}`;
      record('Warning', 'InspectFailed', message);
      return { waiting: { reason: 'InvalidImageName', message } };
    }
    await this.warnMissingPullSecrets(pod);
    const present = await this.opts.images.get(imageName);
    if (policy === 'Never') {
      if (present) {
        record('Normal', 'Pulled', `Container image "${imageName}" already present on machine`);
        return { image: present };
      }
      const message = `Container image "${imageName}" is not present with pull policy of Never`;
      record('Warning', 'ErrImageNeverPull', message);
      return { waiting: { reason: 'ErrImageNeverPull', message }, retryMs: 10_000 };
    }
    let st = this.state.get(key);
    if (st?.pulled) {
      const image = st.pulled;
      st.pulled = undefined;
      return { image };
    }
    if (policy !== 'Always' && present) {
      record('Normal', 'Pulled', `Container image "${imageName}" already present on machine`);
      return { image: present };
    }
    if (st?.running) return { waiting: this.waitingWhilePulling(st, imageName) };
    if (st?.error) {
      // ErrImagePull stays visible a few seconds (syncs caused by our own status writes come
      // at once; the kubelet's next sync is seconds away), then ImagePullBackOff until the retry
      const showErrUntil = Math.min(st.failedAt + ERR_IMAGE_PULL_SHOWN_MS, st.retryAt);
      if (this.now() < showErrUntil) return { waiting: { reason: 'ErrImagePull', message: st.error }, retryMs: showErrUntil - this.now() + 10 };
      if (this.now() < st.retryAt) {
        record('Normal', 'BackOff', `Back-off pulling image "${imageName}"`);
        record('Warning', 'Failed', 'Error: ImagePullBackOff');
        return { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${imageName}": ErrImagePull: ${st.error}` }, retryMs: st.retryAt - this.now() + 10 };
      }
    }
    if (!this.opts.puller) {
      const message = `image "${imageName}" is not present on this node and this node pulls no images: load it with 'podbay image load -i FILE'`;
      record('Warning', 'Failed', `Failed to pull image "${imageName}": ${message}`);
      record('Warning', 'Failed', 'Error: ErrImagePull');
      return { waiting: { reason: 'ErrImagePull', message }, retryMs: 10_000 };
    }
    st ??= { delayMs: 0, retryAt: 0, failedAt: 0 };
    this.state.set(key, st);
    this.startPull(pod, spec, key, st, record);
    return { waiting: this.waitingWhilePulling(st, imageName) };
  }

  /** What the container shows while its image is being pulled: the last failure, or ContainerCreating. */
  private waitingWhilePulling(st: PullState, image: string): Waiting {
    if (st.error) return { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${st.error}` };
    return { reason: 'ContainerCreating' };
  }

  private startPull(pod: Obj, spec: Obj, key: string, st: PullState, record: (type: 'Normal' | 'Warning', reason: string, message: string) => void): void {
    const imageName: string = spec.image;
    const uid: string = pod.metadata.uid;
    record('Normal', 'Pulling', `Pulling image "${imageName}"`);
    const t0 = this.now();
    st.running = (async () => {
      try {
        const credentials = await this.pullSecrets(pod);
        const r = await this.opts.puller!.pull(imageName, { credentials });
        const took = goDuration(this.now() - t0);
        record('Normal', 'Pulled', `Successfully pulled image "${imageName}" in ${took} (${took} including waiting). Image size: ${r.size} bytes.`);
        st.pulled = r.image;
        st.error = undefined;
        st.delayMs = 0;
      } catch (e) {
        const message = (e as Error).message;
        st.error = message;
        st.failedAt = this.now();
        st.delayMs = st.delayMs ? Math.min(st.delayMs * 2, IMAGE_BACKOFF_MAX_MS) : IMAGE_BACKOFF_START_MS;
        st.retryAt = this.now() + st.delayMs;
        record('Warning', 'Failed', `Failed to pull image "${imageName}": ${message}`);
        record('Warning', 'Failed', 'Error: ErrImagePull');
      } finally {
        st.running = undefined;
        this.opts.enqueue(uid);
      }
    })();
  }

  /**
   * Credentials from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson or the legacy
   * kubernetes.io/dockercfg); a missing or malformed secret is logged and skipped, as the
   * kubelet does, so the pull can still succeed anonymously.
   */
  private async pullSecrets(pod: Obj): Promise<CredentialStore[]> {
    const out: CredentialStore[] = [];
    for (const ref of (pod.spec.imagePullSecrets ?? []) as Obj[]) {
      if (!ref?.name) continue;
      const secret = await this.opts.client.getSecret(pod.metadata.namespace, ref.name).catch(() => undefined);
      if (!secret) {
        this.opts.log?.(`kubelet: pod ${pod.metadata.namespace}/${pod.metadata.name}: imagePullSecret "${ref.name}" not found; pulling without it`);
        continue;
      }
      const field = secret.type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
      const data = secret.data?.[field];
      if (typeof data !== 'string') {
        this.opts.log?.(`kubelet: imagePullSecret ${pod.metadata.namespace}/${ref.name} has no ${field}; skipped`);
        continue;
      }
      try {
        out.push(parseDockerConfig(Buffer.from(data, 'base64').toString('utf8'), `secret ${pod.metadata.namespace}/${ref.name}`));
      } catch (e) {
        this.opts.log?.(`kubelet: imagePullSecret: ${(e as Error).message}; skipped`);
      }
    }
    return out;
  }

  /**
   * The kubelet's getPullSecretsForPod: imagePullSecrets that do not exist are named in a
   * Warning on the pod, whether or not an image is pulled (FailedToRetrieveImagePullSecret,
   * "Unable to retrieve some image pull secrets (a, b); attempting to pull the image may not
   * succeed."). Once per pod here; the kubelet repeats it on every sync.
   */
  private async warnMissingPullSecrets(pod: Obj): Promise<void> {
    const uid: string = pod.metadata.uid;
    const names = ((pod.spec.imagePullSecrets ?? []) as Obj[]).map((r) => r?.name).filter((n): n is string => typeof n === 'string' && n !== '');
    if (!names.length || this.secretsChecked.has(uid)) return;
    this.secretsChecked.add(uid);
    const missing: string[] = [];
    for (const name of names) if (!(await this.opts.client.getSecret(pod.metadata.namespace, name).catch(() => undefined))) missing.push(name);
    if (missing.length) this.opts.record(pod, 'Warning', 'FailedToRetrieveImagePullSecret', `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`);
  }

  /** A pod is gone: drop its back-off and pull bookkeeping (a running pull finishes for others). */
  forget(uid: string): void {
    this.secretsChecked.delete(uid);
    for (const k of [...this.state.keys()]) if (k.startsWith(`${uid}/`) && !this.state.get(k)!.running) this.state.delete(k);
  }
}
