/**
 * The registry's webhook admission: the dispatcher wired to what the registry stores (webhook
 * configurations, namespaces, Services and their Endpoints) and the HTTPS caller.
 *
 * A service reference is reached through the Service's Endpoints (a ready address and the
 * target port of the referenced service port), as kube-apiserver does with
 * --enable-aggregator-routing: podbay's API server is a host process, and the endpoints do not
 * depend on the service proxy's rules being in place. The TLS server name stays
 * NAME.NAMESPACE.svc, which the serving certificate must carry.
 */
import { RESOURCES, resourceInfo, type ResourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';
import type { UserInfo } from '../../api/rbac.js';
import { callWebhook } from './call.js';
import { WebhookDispatcher } from './dispatcher.js';
import type { AdmissionAttributes, Operation, WebhookDispatcherDeps } from './types.js';

export { WebhookDispatcher } from './dispatcher.js';
export type { AdmissionAttributes, Operation } from './types.js';

const SERVICES = resourceInfo('services')!;
const ENDPOINTS = resourceInfo('endpoints')!;

/**
 * who an in-process write (a controller's, the kubelet's through the local client) is for the
 * webhooks: kube-apiserver's own loopback identity
 */
export const LOOPBACK_USER: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

/** what the dispatcher needs of the registry */
export interface WebhookStore {
  tryGet(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined>;
  /** the stored mutating and validating webhook configurations (read on every write: from memory) */
  webhookConfigurations(): Promise<{ mutating: Obj[]; validating: Obj[] }>;
  /** a namespace as admission sees it (from memory, the store on a miss) */
  admissionNamespace(name: string): Promise<Obj | undefined>;
}

/** a Service reference as a URL to one of its endpoints (EndpointServiceResolver) */
export async function resolveServiceEndpoint(store: WebhookStore, ns: string, name: string, port: number, path: string): Promise<string> {
  const svc = await store.tryGet(SERVICES, ns, name);
  if (!svc) throw new Error(`service "${name}" not found`);
  const sp = (svc.spec?.ports ?? []).find((p: Obj) => p.port === port);
  if (!sp) throw new Error(`no service port ${port} found for service "${name}"`);
  const ep = await store.tryGet(ENDPOINTS, ns, name);
  for (const subset of ep?.subsets ?? []) {
    const address = (subset.addresses ?? [])[0];
    const epPort = (subset.ports ?? []).find((p: Obj) => (p.name ?? '') === (sp.name ?? '')) ?? (subset.ports?.length === 1 ? subset.ports[0] : undefined);
    if (!address || !epPort) continue;
    const host = address.ip.includes(':') ? `[${address.ip}]` : address.ip;
    return `https://${host}:${epPort.port}${path.startsWith('/') ? path : `/${path}`}`;
  }
  throw new Error(`no endpoints available for service "${name}"`);
}

export function registryWebhooks(store: WebhookStore, servedCustom: () => ResourceInfo[], log?: (line: string) => void): WebhookDispatcher {
  const deps: WebhookDispatcherDeps = {
    configurations: () => store.webhookConfigurations(),
    namespaceLabels: async (name) => (await store.admissionNamespace(name))?.metadata?.labels ?? undefined,
    resolveService: (ns, name, port, path) => resolveServiceEndpoint(store, ns, name, port, path),
    servedKinds: () => [...RESOURCES, ...servedCustom()],
    call: callWebhook,
    log,
  };
  return new WebhookDispatcher(deps);
}

/** the options object of a request as the review carries it (CreateOptions, UpdateOptions, DeleteOptions) */
export function reviewOptions(operation: Operation, dryRun: boolean, fieldManager?: string, extra: Obj = {}): Obj {
  const kind = operation === 'CREATE' ? 'CreateOptions' : operation === 'UPDATE' ? 'UpdateOptions' : 'DeleteOptions';
  return { kind, apiVersion: 'meta.k8s.io/v1', ...(dryRun ? { dryRun: ['All'] } : {}), ...(fieldManager && operation !== 'DELETE' ? { fieldManager } : {}), ...extra };
}

export function attributes(a: Omit<AdmissionAttributes, 'user'> & { user?: UserInfo }): AdmissionAttributes {
  return { ...a, user: a.user ?? LOOPBACK_USER };
}
