/**
 * Contracts of the admission webhook dispatcher (kube-apiserver's
 * staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook): what a write tells it, what a
 * call answers, and the options the registry gives it.
 */
import type { UserInfo } from '../../api/rbac.js';
import type { ResourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** admission.Attributes: one write as the webhooks see it */
export interface AdmissionAttributes {
  r: ResourceInfo;
  /** '' for the main resource, else "status", "scale" ... */
  subResource: string;
  /**
   * the kind of `object` when it is not the resource's own: a subresource's (autoscaling/v1
   * Scale for scale, v1 PodExecOptions for a CONNECT of pods/exec ...); sent as is
   */
  kind?: { group: string; version: string; kind: string };
  operation: Operation;
  namespace: string;
  name: string;
  /** the object after defaulting (null on DELETE) */
  object: Obj | null;
  /** the stored object (UPDATE, DELETE) */
  oldObject: Obj | null;
  dryRun: boolean;
  /** CreateOptions / UpdateOptions / DeleteOptions as the client sent them (null for CONNECT) */
  options: Obj | null;
  user: UserInfo;
}

export type { AdmissionRequestContext } from '../../api/types.js';

/** one webhook of a stored configuration, with where it came from */
export interface ConfiguredWebhook {
  configuration: string;
  /** index of the webhook in its configuration */
  index: number;
  hook: Obj;
  mutating: boolean;
}

/** where a webhook is reached: a URL and the CA bundle to trust, the TLS server name for a service */
export interface WebhookTarget {
  url: string;
  ca?: Buffer;
  serverName?: string;
}

/** the HTTPS caller (fake in unit tests): POST the review, answer the parsed response body */
export type WebhookCaller = (target: WebhookTarget, body: Obj, timeoutMs: number) => Promise<Obj>;

export interface WebhookDispatcherDeps {
  /** the stored webhook configurations */
  configurations(): Promise<{ mutating: Obj[]; validating: Obj[] }>;
  /** the labels of a namespace (namespaceSelector), undefined when it does not exist */
  namespaceLabels(name: string): Promise<Record<string, string> | undefined>;
  /** a Service reference resolved to a URL (endpoints), or an Error saying why not */
  resolveService(namespace: string, name: string, port: number, path: string): Promise<string>;
  /** every served kind (matchPolicy Equivalent looks for the same resource in other versions) */
  servedKinds(): ResourceInfo[];
  call: WebhookCaller;
  log?: (line: string) => void;
}
