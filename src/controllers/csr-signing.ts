/**
 * kube-controller-manager's csrapproving and csrsigning controllers for kubelet client and
 * serving certificates, in one loop:
 *
 *   CSR informer ──> queue of names ──> sync(name):
 *       not yet decided, a valid kubelet client request from a bootstrapper (or a node renewing
 *           its own) -> condition Approved (reason AutoApproved), as the approver words it
 *       a kubelet serving request (signer kubernetes.io/kubelet-serving) from the node itself
 *           for its own addresses -> Approved (src/api/csr.ts servingApprovalFor: podbay
 *           approves these as k3s issues them; kube-controller-manager leaves them to an admin)
 *       Approved, signer kubernetes.io/kube-apiserver-client-kubelet, kubelet-serving or
 *       kube-apiserver-client (an admin's `kubectl certificate approve`), no certificate yet
 *           -> status.certificate = a certificate from podbay's CA (`sign`, injected: the
 *              controllers reach the CA only through the composition root)
 *
 * Approval is written through certificatesigningrequests/approval (as the csrapproving
 * controller's UpdateApproval), the certificate or a Failed condition through /status.
 *
 * A request the approver may not approve is left pending, as upstream leaves it (an admin may
 * approve it by hand); a request the signer cannot sign gets condition Failed.
 */
import { resourceInfo } from '../api/registry.js';
import {
  apiServerClientUsageProblem,
  approvalFor,
  csrCondition,
  kubeletClientCsrProblem,
  kubeletServingCsrProblem,
  servingApprovalFor,
  KUBE_APISERVER_CLIENT_SIGNER,
  KUBELET_CLIENT_SIGNER,
  KUBELET_SERVING_SIGNER,
  NODE_USER_PREFIX,
} from '../api/csr.js';
import { rfc3339 } from '../api/time.js';
import type { Client, Obj } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { runWorkers, WorkQueue } from './workqueue.js';

const CSRS = resourceInfo('certificatesigningrequests', 'certificates.k8s.io')!;
const NODES = resourceInfo('nodes')!;

/** kube-controller-manager's --cluster-signing-duration default: one year */
export const DEFAULT_SIGNING_DURATION_MS = 365 * 86_400_000;

export interface CsrSigningOptions {
  /** a PEM certificate for a PEM request and its usages, valid for ttlMs */
  sign(requestPem: string, usages: string[], ttlMs: number): Promise<string>;
  durationMs?: number;
  /** the names (IPs, DNS names) the API server serves on: never approved in a node's serving certificate */
  apiServerNames?: string[];
  log?: (line: string) => void;
}

export class CsrSigningController {
  private readonly csrs: Informer;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 30_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: CsrSigningOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.csrs = new Informer(client, CSRS, { log: this.log });
    const enqueue = (o: Obj) => o.metadata?.name && this.queue.add(o.metadata.name);
    this.csrs.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n) });
  }

  async start(): Promise<void> {
    await this.csrs.start();
    this.running = runWorkers(this.queue, 1, (name) => this.sync(name), (l) => this.log(`csr signer: ${l}`));
  }

  async stop(): Promise<void> {
    this.csrs.stop();
    this.queue.shutDown();
    await this.running;
  }

  /** the Node a serving request's requester is (its addresses bound what it may ask for) */
  private async requestingNode(csr: Obj): Promise<Obj | undefined> {
    const user: string = csr.spec?.username ?? '';
    if (!user.startsWith(NODE_USER_PREFIX)) return undefined;
    return this.client.resource(NODES).tryGet(undefined, user.slice(NODE_USER_PREFIX.length));
  }

  /** the names a serving certificate of the requester may not carry: the API server's, the other nodes' */
  private async takenNames(csr: Obj): Promise<Map<string, string>> {
    const taken = new Map<string, string>();
    for (const n of this.opts.apiServerNames ?? []) taken.set(n, 'the API server');
    const me = String(csr.spec?.username ?? '').slice(NODE_USER_PREFIX.length);
    for (const node of (await this.client.resource(NODES).list(undefined)).items) {
      if (node.metadata?.name === me) continue;
      const what = `node ${node.metadata?.name}`;
      taken.set(node.metadata?.name, what);
      for (const a of node.status?.addresses ?? []) if (a?.address) taken.set(a.address, what);
    }
    return taken;
  }

  private async sync(name: string): Promise<void> {
    const csr = this.csrs.cache.getByName(undefined, name);
    const signer = csr?.spec?.signerName;
    const serving = signer === KUBELET_SERVING_SIGNER;
    if (!csr || (!serving && signer !== KUBELET_CLIENT_SIGNER && signer !== KUBE_APISERVER_CLIENT_SIGNER)) return;
    if (csrCondition(csr, 'Denied') || csrCondition(csr, 'Failed') || csr.status?.certificate) return;
    const res = this.client.resource(CSRS);
    const now = rfc3339();
    if (!csrCondition(csr, 'Approved')) {
      // kube-apiserver-client requests are an admin's to approve (kube-controller-manager's approver leaves them too)
      if (signer === KUBE_APISERVER_CLIENT_SIGNER) return;
      const d = serving ? servingApprovalFor(csr, await this.requestingNode(csr), await this.takenNames(csr)) : approvalFor(csr);
      if (!d.approve) return;
      const conditions = [...(csr.status?.conditions ?? []), { type: 'Approved', status: 'True', reason: 'AutoApproved', message: d.reason, lastUpdateTime: now, lastTransitionTime: now }];
      await res.update({ ...csr, status: { ...(csr.status ?? {}), conditions } }, { sub: 'approval' });
      return; // the update comes back through the informer and is signed then
    }
    // an admin may approve a request the approver would not: the signer still checks its shape
    const problem = serving ? kubeletServingCsrProblem(csr) : signer === KUBE_APISERVER_CLIENT_SIGNER ? apiServerClientUsageProblem(csr.spec.usages ?? []) : kubeletClientCsrProblem(csr);
    let status: Obj;
    if (problem) {
      status = { ...(csr.status ?? {}), conditions: [...(csr.status?.conditions ?? []), { type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message: problem, lastUpdateTime: now, lastTransitionTime: now }] };
    } else {
      const requested = csr.spec.expirationSeconds ? csr.spec.expirationSeconds * 1000 : Infinity;
      const ttl = Math.max(600_000, Math.min(requested, this.opts.durationMs ?? DEFAULT_SIGNING_DURATION_MS));
      const pem = await this.opts.sign(Buffer.from(csr.spec.request, 'base64').toString('utf8'), csr.spec.usages ?? [], ttl);
      status = { ...(csr.status ?? {}), certificate: Buffer.from(pem).toString('base64') };
      this.log(`csr signer: issued a ${serving ? 'serving' : signer === KUBE_APISERVER_CLIENT_SIGNER ? 'kube-apiserver client' : 'client'} certificate for ${csr.spec.username} (CSR ${name})`);
    }
    await res.update({ ...csr, status }, { sub: 'status' });
  }
}
