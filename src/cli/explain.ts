/**
 * `podbay explain pod NAME [-n NAMESPACE] [-o text|json|svg]`: a client of the API server's
 * podexplains endpoint (src/explain/endpoint.ts), found through a kubeconfig as kubectl finds
 * its server. The server reads the live system; this side only renders.
 */
import https from 'node:https';
import { accessSync, constants } from 'node:fs';
import { parseArgs } from './args.js';
import { loadKubeconfig } from '../apiserver/kubeconfig.js';
import { explainPath } from '../explain/endpoint.js';
import { renderText } from '../explain/text.js';
import type { PodExplain } from '../explain/types.js';

export const EXPLAIN_HELP = `Usage: podbay explain pod NAME [-n NAMESPACE] [-o text|json|svg] [--kubeconfig FILE] [--data-dir DIR]

Shows the Linux reality behind a running pod, read live on its node: the namespaces of the
pause process and of each container (inodes, shared or not), the network (interfaces in the
pod's netns, the veth pair, the bridge, routes, the iptables rules of its hostPorts), the
process tree under conmon, the volumes, and the commands that show the same by hand.

  -o text   for a terminal (80 columns), with a box diagram (default)
  -o json   the same data for other tools
  -o svg    the diagram as an SVG image
`;

function get(cfg: ReturnType<typeof loadKubeconfig>, path: string, accept: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, cfg.server);
    const req = https.request(
      url,
      {
        method: 'GET',
        ca: cfg.caPem,
        rejectUnauthorized: !cfg.insecure,
        headers: { accept, ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}) },
        timeout: 60_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${cfg.server} in 60 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** kubectl's way of printing a Status: `Error from server (NotFound): pods "x" not found` */
export function statusError(status: number, body: string): string {
  try {
    const s = JSON.parse(body);
    if (s?.kind === 'Status') return `Error from server (${s.reason || 'Unknown'}): ${s.message}`;
  } catch {
    /* not a Status */
  }
  return `Error from server: ${status} ${body.slice(0, 300)}`;
}

/**
 * The server's kubeconfig is root's (0600): a user who is not root gets told that, rather
 * than a bare EACCES.
 */
export function kubeconfigProblem(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return `cannot read the kubeconfig ${path} (permission denied): explaining a pod needs root on the node (sudo podbay explain ...), or a kubeconfig you may read (--kubeconfig FILE)`;
    }
    if (code === 'ENOENT') return `no kubeconfig at ${path}: is 'podbay server' running with that data dir? (or pass --kubeconfig FILE)`;
    return `cannot read the kubeconfig ${path}: ${(e as Error).message}`;
  }
}

export async function explainCommand(argv: string[], kubeconfigPath: (flag?: string, dataDir?: string) => string): Promise<number> {
  const p = parseArgs(argv, ['help', 'h'], ['namespace', 'n', 'output', 'o', 'kubeconfig', 'data-dir', 'help', 'h'], 'explain');
  if (p.flags.has('help') || p.flags.has('h')) {
    process.stdout.write(EXPLAIN_HELP);
    return 0;
  }
  let [kind, name, ...extra] = p.positionals;
  if (kind && kind.includes('/') && name === undefined) [kind, name] = kind.split('/', 2) as [string, string];
  if (!kind || !['pod', 'pods', 'po'].includes(kind) || !name || extra.length) {
    process.stderr.write(`podbay explain: want 'pod NAME'\n\n${EXPLAIN_HELP}`);
    return 2;
  }
  const output = p.flags.get('output') ?? p.flags.get('o') ?? 'text';
  if (!['text', 'json', 'svg'].includes(output)) {
    process.stderr.write(`podbay explain: unable to match a printer suitable for the output format "${output}", allowed formats are: json,svg,text\n`);
    return 2;
  }
  const path = kubeconfigPath(p.flags.get('kubeconfig'), p.flags.get('data-dir'));
  const problem = kubeconfigProblem(path);
  if (problem) {
    process.stderr.write(`podbay explain: ${problem}\n`);
    return 1;
  }
  const cfg = loadKubeconfig(path);
  const ns = p.flags.get('namespace') ?? p.flags.get('n') ?? cfg.namespace;
  const r = await get(cfg, explainPath(ns, name), output === 'svg' ? 'image/svg+xml' : 'application/json');
  if (r.status !== 200) {
    process.stderr.write(statusError(r.status, r.body) + '\n');
    return 1;
  }
  if (output === 'svg') process.stdout.write(r.body);
  else if (output === 'json') process.stdout.write(JSON.stringify(JSON.parse(r.body), null, 2) + '\n');
  else process.stdout.write(renderText(JSON.parse(r.body) as PodExplain));
  return 0;
}
