/**
 * `podbay token create|list|delete`: bootstrap tokens for agents joining this server, as
 * `kubeadm token` manages them (Secrets kube-system/bootstrap-token-ID, see
 * src/api/bootstrap-token.ts). A client of the API through the admin kubeconfig.
 */
import { parseArgs } from './args.js';
import { loadKubeconfig } from '../apiserver/kubeconfig.js';
import { caCertHash } from '../apiserver/pki.js';
import { HttpsClient } from '../client/https.js';
import { resourceInfo } from '../api/registry.js';
import { ApiError } from '../api/errors.js';
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  bootstrapTokenRow,
  bootstrapTokenSecret,
  bootstrapTokenSecretName,
  generateBootstrapToken,
  parseBootstrapToken,
  parseTtl,
} from '../api/bootstrap-token.js';

const SECRETS = resourceInfo('secrets')!;

export const TOKEN_HELP = `Usage: podbay token create [--ttl 24h] [--description TEXT] [--print-join-command]
       podbay token list
       podbay token delete TOKEN|ID ...

Bootstrap tokens let 'podbay agent' join this server (as kubeadm's). Flags:
  --ttl D                  how long the token authenticates (default 24h; 0: never expires)
  --print-join-command     print the whole 'podbay agent' command, with the CA's hash
  --kubeconfig FILE, --data-dir DIR   where the admin kubeconfig is (default: the server's)
`;

export async function tokenCommand(argv: string[], kubeconfigPath: (flag?: string, dataDir?: string) => string): Promise<number> {
  const p = parseArgs(argv, ['help', 'print-join-command'], ['help', 'print-join-command', 'ttl', 'description', 'kubeconfig', 'data-dir'], 'token');
  const [verb, ...args] = p.positionals;
  if (p.flags.has('help') || !verb) {
    process.stdout.write(TOKEN_HELP);
    return verb || p.flags.has('help') ? 0 : 2;
  }
  const cfg = loadKubeconfig(kubeconfigPath(p.flags.get('kubeconfig'), p.flags.get('data-dir')));
  if (!cfg.caPem || !cfg.token) throw new Error('the kubeconfig names no CA or token: podbay token needs the admin kubeconfig');
  const client = new HttpsClient({ server: cfg.server, token: cfg.token, caPem: cfg.caPem });
  const secrets = client.resource(SECRETS);
  try {
    switch (verb) {
      case 'create': {
        const ttlMs = parseTtl(p.flags.get('ttl') ?? '24h');
        const t = generateBootstrapToken();
        await secrets.create(BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecret(t, { ttlMs, description: p.flags.get('description') }));
        const token = `${t.id}.${t.secret}`;
        if (p.flags.has('print-join-command')) process.stdout.write(`podbay agent --server ${cfg.server} --token ${token} --ca-cert-hash ${caCertHash(cfg.caPem)}\n`);
        else process.stdout.write(`${token}\n`);
        return 0;
      }
      case 'list': {
        const list = await secrets.list(BOOTSTRAP_TOKEN_NAMESPACE, { fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` });
        const rows = list.items.map((s) => bootstrapTokenRow(s)).filter((r) => r !== undefined);
        const table = [['TOKEN', 'TTL', 'EXPIRES', 'USAGES', 'EXTRA GROUPS'], ...rows.map((r) => [r.token, r.ttl, r.expires, r.usages, r.groups])];
        const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
        for (const row of table) process.stdout.write(row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i] + 3) : c)).join('') + '\n');
        return 0;
      }
      case 'delete': {
        if (!args.length) throw new Error('podbay token delete needs a token or token id');
        for (const a of args) {
          const id = parseBootstrapToken(a)?.id ?? (/^[a-z0-9]{6}$/.test(a) ? a : undefined);
          if (!id) throw new Error(`${JSON.stringify(a)} is neither a bootstrap token (abcdef.0123456789abcdef) nor its id (abcdef)`);
          try {
            await secrets.delete(BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecretName(id));
          } catch (e) {
            if (e instanceof ApiError && e.code === 404) throw new Error(`bootstrap token ${JSON.stringify(id)} not found`);
            throw e;
          }
          process.stdout.write(`bootstrap token "${id}" deleted\n`);
        }
        return 0;
      }
      default:
        process.stderr.write(`podbay token: unknown verb ${JSON.stringify(verb)}\n\n${TOKEN_HELP}`);
        return 2;
    }
  } finally {
    client.close();
  }
}
