/**
 * Headless Debian chromium, driven over the Chrome DevTools Protocol with the `ws` client
 * podbay already depends on: just enough to open a page, run an expression in it and take a
 * screenshot. A stand-in until puppeteer-core is a dependency (it speaks the same protocol).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';

function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

export class Page {
  private id = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${msg.error.message}`));
      else p.resolve(msg.result);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** the value of a JavaScript expression in the page (promises awaited) */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** poll an expression until it is truthy; its value */
  async waitFor<T = unknown>(what: string, expression: string, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.evaluate<T>(expression).catch(() => undefined);
      if (v) return v;
      if (Date.now() > end) throw new Error(`page: ${what} did not happen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async goto(url: string): Promise<void> {
    await this.send('Page.enable');
    await this.send('Page.navigate', { url });
    await this.waitFor('load', `document.readyState === 'complete' && location.href === ${JSON.stringify(url)}`);
  }

  async screenshot(path: string): Promise<Buffer> {
    const r = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true });
    const png = Buffer.from(r.data, 'base64');
    writeFileSync(path, png);
    return png;
  }
}

export class Browser {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly port: number,
    private readonly sockets: WebSocket[] = [],
  ) {}

  static async launch(): Promise<Browser> {
    if (spawnSync('bash', ['-c', 'command -v chromium']).status !== 0) throw new Error('chromium is not installed: apt-get install chromium (the web view is tested in Debian\'s chromium, headless)');
    const dir = mkdtempSync(join(tmpdir(), 'podbay-chromium-'));
    // --ignore-certificate-errors: the test's own server on 127.0.0.1 with its own CA
    const proc = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--ignore-certificate-errors', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${dir}`, '--window-size=1280,1000', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // its own process group: chromium's zygote and renderers go with it at close()
      detached: true,
    });
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 20_000);
      proc.stderr!.on('data', (d) => {
        err += d;
        const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${err}`)));
    });
    return new Browser(proc, dir, port);
  }

  async page(): Promise<Page> {
    const targets = (await getJson(`http://127.0.0.1:${this.port}/json/list`)) as any[];
    const t = targets.find((x) => x.type === 'page');
    const ws = new WebSocket(t.webSocketDebuggerUrl, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    this.sockets.push(ws);
    return new Page(ws);
  }

  /** SIGTERM to the browser's process group (the one this launch made), SIGKILL after 5 s, then its profile dir goes */
  async close(): Promise<void> {
    for (const s of this.sockets) s.close();
    const group = -this.proc.pid!;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(group, sig);
      } catch {
        /* gone */
      }
    };
    signal('SIGTERM');
    for (let i = 0; alive() && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    if (alive()) signal('SIGKILL');
    for (let i = 0; alive() && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }
}
