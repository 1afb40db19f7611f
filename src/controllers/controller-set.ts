/**
 * Every controller kube-controller-manager would run, as one list the composition root starts
 * and stops together: at once on a single server, or while it holds the
 * kube-system/kube-controller-manager Lease when several servers share etcd (leader-work.ts).
 * A new controller is added here, and nowhere else.
 */
import type { Client } from '../client/types.js';
import { NamespaceController } from './namespace.js';
import { EndpointsController } from './endpoints.js';
import { EndpointSliceMirroringController } from './endpointslice-mirroring.js';
import { ControllerManager } from './manager.js';
import { JobController } from './job.js';
import { CronJobController } from './cronjob.js';
import { StatefulSetController } from './statefulset.js';
import { DaemonSetController } from './daemonset.js';
import { PersistentVolumeController } from './persistentvolume.js';
import { VolumeProtectionController } from './volume-protection.js';
import { DisruptionController } from './disruption.js';
import { EphemeralVolumeController } from './ephemeral.js';
import { NodeLifecycleController } from './node-lifecycle.js';
import { rootCaPublisher, serviceAccountsController } from './namespace-objects.js';
import { ClusterRoleAggregationController } from './clusterrole-aggregation.js';
import { CsrSigningController } from './csr-signing.js';
import { ServiceAccountTokensController, type LegacyTokenSigner } from './serviceaccount-tokens.js';
import type { Component } from './leader-work.js';

export interface ControllerSetOptions {
  /** the in-process client; controllers that write as kube-controller-manager get `.as('kube-controller-manager')` */
  client: Client;
  kcm: Client;
  /** the CA certificate the root CA publisher puts in every namespace, and every token Secret holds */
  caPem: string;
  /** signs the legacy tokens of kubernetes.io/service-account-token Secrets (with the service-account key) */
  legacyToken: LegacyTokenSigner;
  /** signs approved kubelet client CSRs */
  sign: (requestPem: string, usages: string[], ttlMs: number) => Promise<string>;
  /** the names the API server serves on: no node's serving certificate may carry them */
  apiServerNames: string[];
  /** the local-path provisioner's directory and node */
  localPathDir: string;
  nodeName: string;
  /** --node-monitor-grace-period and --node-monitor-period, for the node lifecycle controller */
  nodeMonitor?: { gracePeriodMs?: number; monitorPeriodMs?: number };
  log: (line: string) => void;
}

export function controllerSet(o: ControllerSetOptions): Component[] {
  const { client, kcm, log } = o;
  const c = (what: string, x: { start(): Promise<void>; stop(): unknown }): Component => ({ what, start: () => x.start(), stop: () => x.stop() });
  return [
    c('the namespace controller', new NamespaceController(kcm, { log })),
    c('the endpoints controller', new EndpointsController(kcm, { log })),
    c('the endpointslice mirroring controller', new EndpointSliceMirroringController(kcm, { log })),
    c('the workload controllers', new ControllerManager(kcm, { log })),
    c('the job controller', new JobController(kcm, { log })),
    c('the cronjob controller', new CronJobController(kcm, { log })),
    c('the statefulset controller', new StatefulSetController(kcm, { log })),
    c('the daemonset controller', new DaemonSetController(kcm, { log })),
    // local persistent volumes: the binder with k3s's local-path provisioner, and the protection finalizers
    c('the persistentvolume controller', new PersistentVolumeController(client, { localPathDir: o.localPathDir, nodeName: o.nodeName, log })),
    c('the volume protection controller', new VolumeProtectionController(client, { log })),
    c('the disruption controller', new DisruptionController(client, { log })),
    c('the ephemeral volume controller', new EphemeralVolumeController(client, { log })),
    c('the node lifecycle controller', new NodeLifecycleController(client, { log, ...o.nodeMonitor })),
    c('the service account controller', serviceAccountsController(kcm, { log })),
    c('the root CA publisher', rootCaPublisher(kcm, o.caPem, { log })),
    c('the serviceaccount-token controller', new ServiceAccountTokensController(kcm, { caPem: o.caPem, legacyToken: o.legacyToken, log })),
    c('the clusterrole aggregation controller', new ClusterRoleAggregationController(kcm, { log })),
    // agents' node credentials: kubelet client CSRs approved and signed by the CA
    c('the certificate signing controller', new CsrSigningController(client, { sign: o.sign, apiServerNames: o.apiServerNames, log })),
  ];
}
