/**
 * Events about pods, as the kubelet and the scheduler post them (Scheduled, Pulled, Created,
 * Started, Killing, BackOff, Failed ...), and about the objects controllers run (an object's own
 * kind and apiVersion, when it carries them, name the involved object). A repeat of the same reason and message for the same
 * object bumps `count` and `lastTimestamp` instead of making a new Event, as client-go's
 * event correlator does.
 */
import { randomBytes } from 'node:crypto';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from './types.js';
import { rfc3339 } from '../api/time.js';

const EVENTS = resourceInfo('events')!;

export class EventRecorder {
  private readonly seen = new Map<string, Obj>();

  constructor(
    private readonly client: Client,
    private readonly component: string,
    private readonly host: string,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Fire and forget: an event that cannot be posted must never fail a pod's sync. */
  record(pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    void this.post(pod, type, reason, message, fieldPath).catch((e) => this.log(`event ${reason} for ${pod.metadata.name}: ${(e as Error).message}`));
  }

  private async post(pod: Obj, type: string, reason: string, message: string, fieldPath?: string): Promise<void> {
    const now = rfc3339();
    const key = [pod.metadata.uid, type, reason, message, fieldPath ?? ''].join('\u0000');
    const prev = this.seen.get(key);
    if (prev) {
      const next = { ...prev, count: (prev.count ?? 1) + 1, lastTimestamp: now };
      try {
        this.seen.set(key, await this.client.resource(EVENTS).update(next));
        return;
      } catch {
        this.seen.delete(key); // gone or stale: post a fresh one
      }
    }
    // an event about a cluster-scoped object (a Node) goes to "default", as client-go's recorder puts it
    const namespace: string = pod.metadata.namespace || 'default';
    const event: Obj = {
      metadata: { name: `${pod.metadata.name}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`, namespace },
      involvedObject: {
        // a controller's events are about its own object (a ReplicaSet, a Deployment ...)
        kind: pod.kind ?? 'Pod',
        namespace: pod.metadata.namespace,
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        apiVersion: pod.apiVersion ?? 'v1',
        resourceVersion: pod.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: { component: this.component, ...(this.component === 'kubelet' ? { host: this.host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: this.component,
      reportingInstance: this.component === 'kubelet' ? this.host : '',
    };
    this.seen.set(key, await this.client.resource(EVENTS).create(namespace, event));
    if (this.seen.size > 5000) this.seen.delete(this.seen.keys().next().value!);
  }

  /** forget what was seen for a pod (it is gone) */
  forget(uid: string): void {
    for (const k of this.seen.keys()) if (k.startsWith(uid + '\u0000')) this.seen.delete(k);
  }
}
