/**
 * The HTTPS call of a webhook, as kube-apiserver's webhook client makes it: POST of the
 * AdmissionReview as JSON to the URL with `?timeout=Ns` appended, trusting only the
 * configuration's caBundle (the system roots when it has none), the request bounded by
 * timeoutSeconds. Failures are worded as Go's client words them (`Post "URL": context deadline
 * exceeded`), wrapped by the dispatcher with the webhook's name.
 */
import { request } from 'node:https';
import type { Obj } from '../../api/types.js';
import type { WebhookTarget } from './types.js';

/** a response body bigger than this is refused (kube reads at most 3 MiB of it) */
const MAX_RESPONSE_BYTES = 3 * 1024 * 1024;

export function callWebhook(target: WebhookTarget, body: Obj, timeoutMs: number): Promise<Obj> {
  const url = new URL(target.url);
  url.searchParams.set('timeout', `${Math.round(timeoutMs / 1000)}s`);
  const shown = `Post "${url.toString()}"`;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise<Obj>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, value?: Obj) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, */*', 'Content-Length': payload.length },
        ca: target.ca,
        servername: target.serverName,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            finish(new Error(`${shown}: the response is bigger than ${MAX_RESPONSE_BYTES} bytes`));
          } else chunks.push(c);
        });
        res.on('error', (e) => finish(new Error(`${shown}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
            return finish(new Error(`an error on the server (${JSON.stringify(text.slice(0, 200))}) has prevented the request from succeeding`));
          }
          try {
            finish(undefined, JSON.parse(text) as Obj);
          } catch (e) {
            finish(new Error(`received invalid webhook response: ${(e as Error).message}`));
          }
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`failed to call webhook: ${shown}: context deadline exceeded`));
    }, timeoutMs);
    req.on('error', (e) => finish(new Error(`failed to call webhook: ${shown}: ${e.message}`)));
    req.end(payload);
  });
}
