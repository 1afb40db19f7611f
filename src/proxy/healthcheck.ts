/**
 * kube-proxy's service health servers (pkg/proxy/healthcheck/service_health.go): a LoadBalancer
 * Service with externalTrafficPolicy Local gets spec.healthCheckNodePort from the API server,
 * and the proxy answers HTTP on it, on every address of the node, so that a load balancer sends
 * traffic only to nodes that have a local endpoint: 200 with the count when there is one,
 * 503 otherwise. The body is kube-proxy's.
 */
import http from 'node:http';

export interface HealthCheckWant {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
}

export function healthResponse(w: Pick<HealthCheckWant, 'namespace' | 'name' | 'localEndpoints'>): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: w.localEndpoints > 0 ? 200 : 503,
    headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(w.localEndpoints) },
    body: `{\n\t"service": {\n\t\t"namespace": ${JSON.stringify(w.namespace)},\n\t\t"name": ${JSON.stringify(w.name)}\n\t},\n\t"localEndpoints": ${w.localEndpoints},\n\t"serviceProxyHealthy": true\n}`,
  };
}

export class ServiceHealthServers {
  private readonly servers = new Map<string, { port: number; want: HealthCheckWant; server: http.Server }>();

  constructor(private readonly log: (line: string) => void = () => {}) {}

  /** make the set of servers what `wants` says: new ones listen, gone ones close, counts update */
  async sync(wants: HealthCheckWant[]): Promise<void> {
    const keep = new Set<string>();
    for (const w of wants) {
      const key = `${w.namespace}/${w.name}`;
      keep.add(key);
      const cur = this.servers.get(key);
      if (cur && cur.port === w.port) {
        cur.want = w;
        continue;
      }
      if (cur) await this.close(key);
      const entry = { port: w.port, want: w, server: http.createServer() };
      entry.server.on('request', (_req, res) => {
        const r = healthResponse(entry.want);
        res.writeHead(r.status, r.headers).end(r.body);
      });
      this.servers.set(key, entry);
      await new Promise<void>((resolve) => {
        entry.server.once('error', (e) => {
          // kube-proxy logs and posts FailedToStartServiceHealthcheck; the rules still work
          this.log(`service proxy: health check server for ${key} on port ${w.port}: ${e.message}`);
          this.servers.delete(key);
          resolve();
        });
        entry.server.listen({ port: w.port, host: '0.0.0.0' }, () => resolve());
      });
    }
    for (const key of [...this.servers.keys()]) if (!keep.has(key)) await this.close(key);
  }

  private async close(key: string): Promise<void> {
    const cur = this.servers.get(key);
    this.servers.delete(key);
    if (!cur) return;
    cur.server.closeAllConnections();
    await new Promise<void>((resolve) => cur.server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    for (const key of [...this.servers.keys()]) await this.close(key);
  }
}
