/**
 * Servers of one cluster (several `podbay server --store etcd` on one etcd) must share the CA
 * (agents trust it and present certificates it signed; every server's serving certificate is
 * signed by it) and the service-account signing key (a token one server issued is checked by
 * another). Each server makes its own DIR/pki on first start, so a second server started
 * without the first one's ca.crt, ca.key and sa.key would quietly split the cluster in two:
 * its tokens refused by the others, agents refusing it.
 *
 * So the first server records its CA certificate and the public half of its service-account key
 * in the ConfigMap kube-system/podbay-cluster-pki, and every later one compares its own with
 * it before serving: a different one stops the start, saying which files to copy (kubeadm's
 * "copy the certificates to the other control-plane nodes"). Nothing secret is stored there.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from '../client/types.js';

const CONFIGMAPS = resourceInfo('configmaps')!;
export const SHARED_PKI_NAMESPACE = 'kube-system';
export const SHARED_PKI_CONFIGMAP = 'podbay-cluster-pki';

export class PkiMismatchError extends Error {}

function saPublicPem(serviceAccountKeyPem: string): string {
  return createPublicKey(serviceAccountKeyPem).export({ type: 'spki', format: 'pem' }) as string;
}

function fingerprint(pem: string): string {
  return createHash('sha256').update(pem.trim()).digest('hex').slice(0, 16);
}

/** record this server's CA and service-account key as the cluster's, or check them against the recorded ones */
export async function checkSharedPki(client: Client, creds: { caPem: string; serviceAccountKeyPem: string }, dataDir: string): Promise<'recorded' | 'matches'> {
  const mine = { 'ca.crt': creds.caPem, 'sa.pub': saPublicPem(creds.serviceAccountKeyPem) };
  const cms = client.resource(CONFIGMAPS);
  let cur: Obj | undefined = await cms.tryGet(SHARED_PKI_NAMESPACE, SHARED_PKI_CONFIGMAP);
  if (!cur) {
    try {
      await cms.create(SHARED_PKI_NAMESPACE, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: SHARED_PKI_CONFIGMAP,
          namespace: SHARED_PKI_NAMESPACE,
          annotations: { 'kubernetes.io/description': "The CA and service-account public key every podbay server of this cluster must have: a server with others refuses to start. Copy DIR/pki/ca.crt, ca.key, sa.key and admin.token from the first server before a new server's first start." },
        },
        data: mine,
      });
      return 'recorded';
    } catch (e) {
      // another server recorded its own at the same moment: compare with that one
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
      cur = await cms.get(SHARED_PKI_NAMESPACE, SHARED_PKI_CONFIGMAP);
    }
  }
  const theirs = cur!.data ?? {};
  const wrong: string[] = [];
  if (String(theirs['ca.crt'] ?? '').trim() !== mine['ca.crt'].trim()) wrong.push(`the CA (${dataDir}/pki/ca.crt, fingerprint ${fingerprint(mine['ca.crt'])}; the cluster's is ${fingerprint(String(theirs['ca.crt'] ?? ''))})`);
  if (String(theirs['sa.pub'] ?? '').trim() !== mine['sa.pub'].trim()) wrong.push(`the service-account key (${dataDir}/pki/sa.key)`);
  if (!wrong.length) return 'matches';
  throw new PkiMismatchError(
    `this server's ${wrong.join(' and ')} differ from those of the cluster it joins (ConfigMap ${SHARED_PKI_NAMESPACE}/${SHARED_PKI_CONFIGMAP}): ` +
      `servers sharing an etcd must share them. Stop this server, copy ca.crt, ca.key, sa.key and admin.token from an existing server's DIR/pki into ${dataDir}/pki (its serving certificate is then issued again by that CA), and start it again`,
  );
}
