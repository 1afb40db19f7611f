/**
 * kubeconfig files: the one the server writes for its admin (DIR/kubeconfig.yaml, mode 0600),
 * and the reader that podbay's own client verbs use to find a server, as kubectl does
 * (`--kubeconfig FILE`, else `$KUBECONFIG`, else the default data dir's file).
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../sys/fs.js';
import { yaml } from '../lazy-module.js';

export const CONTEXT_NAME = 'podbay';

/**
 * A YAML scalar as the yaml package writes it: plain when it cannot be read as anything but
 * this string, else JSON's double-quoted form (valid YAML). Written by hand because the server
 * renders its kubeconfig on every start and the yaml package costs ~30 ms to load.
 */
function scalar(s: string): string {
  const plain = /^[A-Za-z0-9_./+=@-][A-Za-z0-9_./:+=@[\]-]*$/.test(s) && !/^([-+.]?\d|true$|false$|null$|~$|[-.]$)/i.test(s) && !s.endsWith(':');
  return plain ? s : JSON.stringify(s);
}

export function renderKubeconfig(server: string, caPem: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - name: ${CONTEXT_NAME}`,
    '    cluster:',
    `      server: ${scalar(server)}`,
    `      certificate-authority-data: ${scalar(Buffer.from(caPem).toString('base64'))}`,
    'users:',
    '  - name: podbay-admin',
    '    user:',
    `      token: ${scalar(token)}`,
    'contexts:',
    `  - name: ${CONTEXT_NAME}`,
    '    context:',
    `      cluster: ${CONTEXT_NAME}`,
    '      user: podbay-admin',
    '      namespace: default',
    `current-context: ${CONTEXT_NAME}`,
    'preferences: {}',
    '',
  ].join('\n');
}

/** Atomic write with mode 0600: readers (a script waiting for the file) never see half of it. */
export function writeKubeconfig(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, text, 0o600);
}

export interface ClientConfig {
  server: string;
  caPem?: string;
  token?: string;
  insecure?: boolean;
  namespace: string;
}

/** Reads the current context of a kubeconfig file (only what podbay's client needs). */
export function loadKubeconfig(path: string): ClientConfig {
  let doc: any;
  try {
    doc = yaml().parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  const ctxName = doc?.['current-context'];
  const ctx = (doc?.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${path}: current-context ${JSON.stringify(ctxName)} not found`);
  const cluster = (doc.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${path}: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const user = (doc.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  const caData = cluster['certificate-authority-data'];
  return {
    server: cluster.server,
    caPem: caData
      ? Buffer.from(caData, 'base64').toString('utf8')
      : cluster['certificate-authority']
        ? readFileSync(cluster['certificate-authority'], 'utf8')
        : undefined,
    insecure: cluster['insecure-skip-tls-verify'] === true,
    token: user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined),
    namespace: ctx.namespace || 'default',
  };
}
