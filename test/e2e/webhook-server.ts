/**
 * The webhook server of test/e2e/webhooks.test.ts, a host process of its own (the test runs
 * kubectl synchronously, so a server inside the test process could not answer): HTTPS on
 * HOST:PORT with the given key and certificate, answering per path, appending every review's
 * request it got to LOG as one JSON line, and printing "listening" once it is.
 *
 *   node webhook-server.js HOST PORT KEY CERT LOG
 */
import https from 'node:https';
import { appendFileSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

type Obj = Record<string, any>;
const [host, port, keyFile, certFile, logFile] = process.argv.slice(2) as [string, string, string, string, string];

/** the webhook server: answers per path, records every review it got */
function webhookServer(tls: { key: string; cert: string }): https.Server {
  const held: ServerResponse[] = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const path = (req.url ?? '').split('?')[0]!;
      appendFileSync(logFile, JSON.stringify({ path, request: review.request }) + '\n');
      const answer = (response: Obj) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, ...response } }));
      };
      const patch = (ops: unknown[]) => answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
      const o = review.request.object ?? {};
      switch (path) {
        case '/label-pods':
          return patch(o.metadata?.labels ? [{ op: 'add', path: '/metadata/labels/admitted-by', value: 'webhook' }] : [{ op: 'add', path: '/metadata/labels', value: { 'admitted-by': 'webhook' } }]);
        case '/configmaps': {
          const bad = Object.keys(o.data ?? {}).filter((k) => k.startsWith('bad'));
          if (bad.length) return answer({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `key "${bad[0]}" is not allowed here` } });
          return answer({ allowed: true, warnings: ['configmaps are checked by hooks.example.com ✓'] });
        }
        case '/widgets':
          return patch([{ op: 'add', path: '/spec/checked', value: true }]);
        case '/exec': {
          // CONNECT of pods/exec: the review carries the PodExecOptions
          const command: string[] = o.command ?? [];
          if (command.includes('forbidden')) return answer({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `exec of "${command.join(' ')}" is not allowed here` } });
          return answer({ allowed: true });
        }
        case '/scale':
          // UPDATE of deployments/scale: the review carries an autoscaling/v1 Scale
          if ((o.spec?.replicas ?? 0) > 3) return answer({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `at most 3 replicas, not ${o.spec.replicas}` } });
          return answer({ allowed: true });
        case '/slow':
          held.push(res); // never answered: the API server's timeout decides
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
  });
  server.on('close', () => held.forEach((r) => r.destroy()));
  return server;
}

const server = webhookServer({ key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') });
server.listen(Number(port), host, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});

