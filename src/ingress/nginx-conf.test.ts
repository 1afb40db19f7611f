/** The renderer: Ingresses, Services and EndpointSlices in, nginx.conf out (checked by a real `nginx -t`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, renderNginxConf, type RenderInput } from './nginx-conf.js';
import { ownedIngresses, tlsPair } from './controller.js';

type Obj = Record<string, any>;
const svc = (name: string, ports: Obj[] = [{ name: 'http', port: 80, targetPort: 8080 }], ns = 'default'): Obj => ({ metadata: { name, namespace: ns }, spec: { ports } });
const slice = (svcName: string, ips: string[], port = 8080, portName = 'http', ready = true, ns = 'default'): Obj => ({
  metadata: { name: `${svcName}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  ports: [{ name: portName, port, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready } })),
});
const backend = (name: string, number = 80) => ({ service: { name, port: { number } } });
const ing = (name: string, spec: Obj, created = '2026-01-01T00:00:00Z', ns = 'default'): Obj => ({ metadata: { name, namespace: ns, uid: `uid-${name}`, creationTimestamp: created }, spec: { ingressClassName: 'podbay', ...spec } });
const blog = (paths: Obj[], extra: Obj = {}) => ing('blog', { rules: [{ host: 'blog.local', http: { paths } }], ...extra });

function input(ingresses: Obj[], more: Partial<RenderInput> = {}): RenderInput {
  return {
    ingresses,
    services: [svc('web'), svc('api')],
    slices: [slice('web', ['10.244.0.5', '10.244.0.4']), slice('api', ['10.244.0.9'])],
    tls: new Map(),
    listen: { address: '127.0.0.1', http: 18420, https: 18421 },
    files: { pid: '/run/x/nginx.pid', lock: '/run/x/nginx.lock', temp: '/run/x/tmp', user: 'nobody', group: 'nogroup' },
    ...more,
  };
}

/** a server's locations as "MOD PATH -> target" lines, in rendered order */
function locations(conf: string, host: string): string[] {
  const block = conf.split('  server {').find((b) => b.includes(`server_name ${host};`))!;
  const out: string[] = [];
  const re = /location (= )?"([^"]*)" \{\n\s+(proxy_pass http:\/\/(\S+);|return (\d+);)/g;
  for (let m; (m = re.exec(block)); ) out.push(`${m[1] ? '=' : '~'} ${m[2]} -> ${m[4] ?? m[5]}`);
  return out;
}

test('host and path routing: Exact before Prefix, longest prefix first, a Prefix is element-wise, ImplementationSpecific is nginx prefix', () => {
  const { text, problems } = renderNginxConf(input([blog([
    { path: '/', pathType: 'Prefix', backend: backend('web') },
    { path: '/api', pathType: 'Prefix', backend: backend('api') },
    { path: '/api/v1/exact', pathType: 'Exact', backend: backend('web') },
    { path: '/static', pathType: 'ImplementationSpecific', backend: backend('api') },
  ])]));
  assert.deepEqual(problems, []);
  assert.deepEqual(locations(text, 'blog.local'), [
    '= /api/v1/exact -> default-web-80',
    '= /api -> default-api-80',
    '~ /static -> default-api-80',
    '~ /api/ -> default-api-80',
    '~ / -> default-web-80',
  ]);
  // upstreams are the ready endpoints at the target port, never the cluster IP
  assert.match(text, /upstream default-web-80 \{\n    server 10\.244\.0\.4:8080 max_fails=0;\n    server 10\.244\.0\.5:8080 max_fails=0;\n  \}/);
  assert.match(text, /listen 127\.0\.0\.1:18420 default_server;\n    server_name _;/);
  assert.deepEqual(locations(text, '_'), ['~ / -> 404'], 'no default backend anywhere: the catch-all answers 404');
});

test('an Exact path outranks the exact twin of a Prefix path; the older Ingress keeps a contested path', () => {
  const older = ing('old', { rules: [{ host: 'blog.local', http: { paths: [{ path: '/a', pathType: 'Prefix', backend: backend('web') }] } }] }, '2026-01-01T00:00:00Z');
  const newer = ing('new', { rules: [{ host: 'blog.local', http: { paths: [{ path: '/a', pathType: 'Exact', backend: backend('api') }, { path: '/a/', pathType: 'Prefix', backend: backend('api') }] } }] }, '2026-01-02T00:00:00Z');
  const { text } = renderNginxConf(input([newer, older]));
  assert.deepEqual(locations(text, 'blog.local'), ['= /a -> default-api-80', '~ /a/ -> default-web-80', '~ / -> 404']);
});

test('default backends: spec.defaultBackend serves the catch-all and the Ingress\'s hosts without "/"', () => {
  const { text } = renderNginxConf(input([blog([{ path: '/api', pathType: 'Prefix', backend: backend('api') }], { defaultBackend: backend('web') })]));
  assert.deepEqual(locations(text, 'blog.local'), ['= /api -> default-api-80', '~ /api/ -> default-api-80', '~ / -> default-web-80']);
  assert.deepEqual(locations(text, '_'), ['~ / -> default-web-80']);
  const hostless = renderNginxConf(input([ing('x', { rules: [{ http: { paths: [{ path: '/x', pathType: 'Exact', backend: backend('api') }] } }] })]));
  assert.deepEqual(locations(hostless.text, '_'), ['= /x -> default-api-80', '~ / -> 404']);
});

test('a missing Service, a missing port, a resource backend: that path answers 503 and is a problem; the others keep serving', () => {
  const { text, problems } = renderNginxConf(input([blog([
    { path: '/', pathType: 'Prefix', backend: backend('web') },
    { path: '/gone', pathType: 'Prefix', backend: backend('missing') },
    { path: '/port', pathType: 'Exact', backend: backend('web', 9999) },
    { path: '/res', pathType: 'Exact', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'b' } } },
  ])]));
  assert.deepEqual(locations(text, 'blog.local'), ['= /gone -> 503', '= /port -> 503', '= /res -> 503', '~ /gone/ -> 503', '~ / -> default-web-80']);
  assert.deepEqual(problems.map((p) => `${p.reason}: ${p.message}`), [
    'ServiceNotFound: Service "default/missing" not found: its paths answer 503',
    'ServicePortNotFound: Service "default/web" has no port 9999: its paths answer 503',
    "UnsupportedBackend: resource backend Bucket.k8s.example.com/b is not supported by podbay's ingress controller: answering 503",
  ]);
});

test('endpoints follow readiness and the named port; no ready endpoint answers 503 without a problem', () => {
  const paths = [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }];
  const slices = [slice('web', ['10.244.0.7']), slice('web', ['10.244.0.8'], 8080, 'http', false), slice('web', ['10.244.0.9'], 9090, 'metrics')];
  const m = buildModel(input([blog(paths)], { slices }));
  assert.deepEqual(m.upstreams.get('default-web-http'), ['10.244.0.7:8080']);
  const none = renderNginxConf(input([blog(paths)], { slices: [slice('web', ['10.244.0.8'], 8080, 'http', false)] }));
  assert.deepEqual(locations(none.text, 'blog.local'), ['~ / -> 503']);
  assert.deepEqual(none.problems, []);
  assert.doesNotMatch(none.text, /^\s*upstream /m);
});

test('TLS: hosts with a certificate listen with ssl on the HTTPS port; a bad Secret is a problem and the host stays HTTP', () => {
  const tls = new Map<string, any>([['default/blog-tls', { cert: '/run/x/tls/a.crt', key: '/run/x/tls/a.key' }], ['default/bad', 'Secret "default/bad" is of type "Opaque"']]);
  const { text, problems } = renderNginxConf(input([blog([{ path: '/', pathType: 'Prefix', backend: backend('web') }], { tls: [{ hosts: ['blog.local'], secretName: 'blog-tls' }, { hosts: ['other.local'], secretName: 'bad' }] })], { tls }));
  assert.match(text, /listen 127\.0\.0\.1:18420;\n    listen 127\.0\.0\.1:18421 ssl;\n    ssl_certificate \/run\/x\/tls\/a\.crt;\n    ssl_certificate_key \/run\/x\/tls\/a\.key;\n    server_name blog\.local;/);
  assert.doesNotMatch(text.split('server_name other.local;')[0]!.split('server {').at(-1)!, /ssl/);
  assert.deepEqual(problems.map((p) => p.reason), ['TLSSecretInvalid']);
});

test('a path that could break out of its quotes is refused, not rendered', () => {
  const { text, problems } = renderNginxConf(input([blog([{ path: '/a" { return 200; } location "/b', pathType: 'ImplementationSpecific', backend: backend('web') }])]));
  assert.doesNotMatch(text, /return 200/);
  assert.equal(problems[0]!.reason, 'InvalidPath');
});

test('ownership: the class field or the annotation names one of our classes; terminating Ingresses are left out', () => {
  const a = ing('a', {});
  const b = { ...ing('b', {}), spec: {}, metadata: { name: 'b', annotations: { 'kubernetes.io/ingress.class': 'podbay' } } };
  const c = ing('c', { ingressClassName: 'other' });
  const d = { ...ing('d', {}), metadata: { name: 'd', deletionTimestamp: '2026-01-01T00:00:00Z' } };
  assert.deepEqual(ownedIngresses([a, b, c, d], new Set(['podbay'])).map((i) => i.metadata.name), ['a', 'b']);
});

test('TLS Secrets: type kubernetes.io/tls with a parsable certificate and key, else why not', () => {
  assert.match(tlsPair(undefined, 'default', 's') as string, /TLS Secret "default\/s" not found/);
  assert.match(tlsPair({ type: 'Opaque', data: {} }, 'default', 's') as string, /of type "Opaque", not kubernetes.io\/tls/);
  assert.match(tlsPair({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } }, 'default', 's') as string, /do not hold a PEM certificate and key/);
});

test('the rendered file is one nginx accepts (nginx -t), every path under the given prefix', (t) => {
  if (!existsSync('/usr/sbin/nginx')) assert.fail('nginx is missing: install the Debian package nginx-light (scripts/setup-host.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'podbay-nginx-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tmp'));
  const files = { pid: join(dir, 'nginx.pid'), lock: join(dir, 'nginx.lock'), temp: join(dir, 'tmp'), user: 'nobody', group: 'nogroup' };
  const { text } = renderNginxConf(input([blog([
    { path: '/', pathType: 'Prefix', backend: backend('web') },
    { path: '/api', pathType: 'Prefix', backend: backend('api') },
    { path: '/x', pathType: 'Exact', backend: backend('missing') },
    { path: '/a b;{}', pathType: 'ImplementationSpecific', backend: backend('web') },
  ], { defaultBackend: backend('web') }), ing('wild', { rules: [{ host: '*.blog.local', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('api') }] } }] })], { files }));
  writeFileSync(join(dir, 'nginx.conf'), text);
  const r = spawnSync('/usr/sbin/nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-t'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /syntax is ok/);
});

const NGX = 'nginx.ingress.kubernetes.io/';
const annotated = (name: string, host: string, annotations: Obj, paths: Obj[], extra: Obj = {}): Obj => {
  const i = ing(name, { rules: [{ host, http: { paths } }], ...extra });
  i.metadata.annotations = Object.fromEntries(Object.entries(annotations).map(([k, v]) => [NGX + k, v]));
  return i;
};
/** the directives of one location of a host, as rendered */
function locationBody(conf: string, host: string, head: string): string[] {
  const block = conf.split('  server {').find((b) => b.includes(`server_name ${host};`))!;
  const at = block.indexOf(`    location ${head} {\n`);
  assert.ok(at >= 0, `no location ${head} in\n${block}`);
  const body = block.slice(at).split('\n').slice(1);
  return body.slice(0, body.indexOf('    }')).map((l) => l.trim());
}
const TLS = new Map<string, any>([['default/blog-tls', { cert: '/run/x/tls/a.crt', key: '/run/x/tls/a.key' }]]);

test('ssl-redirect: a TLS host answers plain HTTP with 308 to https (the HTTPS port kept), unless "false"; force-ssl-redirect without TLS', () => {
  const tlsSpec = { tls: [{ hosts: ['blog.local'], secretName: 'blog-tls' }] };
  const on = renderNginxConf(input([annotated('blog', 'blog.local', {}, [{ path: '/', pathType: 'Prefix', backend: backend('web') }], tlsSpec)], { tls: TLS }));
  assert.deepEqual(locationBody(on.text, 'blog.local', '"/"'), ['if ($scheme = http) {', 'return 308 "https://$host:18421$request_uri";', '}', 'proxy_pass http://default-web-80;']);
  const off = renderNginxConf(input([annotated('blog', 'blog.local', { 'ssl-redirect': 'false' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }], tlsSpec)], { tls: TLS }));
  assert.deepEqual(locationBody(off.text, 'blog.local', '"/"'), ['proxy_pass http://default-web-80;']);
  const plain = renderNginxConf(input([annotated('blog', 'blog.local', {}, [{ path: '/', pathType: 'Prefix', backend: backend('web') }])]));
  assert.deepEqual(locationBody(plain.text, 'blog.local', '"/"'), ['proxy_pass http://default-web-80;'], 'no TLS, no redirect');
  const forced = renderNginxConf(input([annotated('blog', 'blog.local', { 'force-ssl-redirect': 'true' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }])], { listen: { address: '0.0.0.0', http: 80, https: 443 } }));
  assert.deepEqual(locationBody(forced.text, 'blog.local', '"/"').slice(0, 3), ['if ($scheme = http) {', 'return 308 "https://$host$request_uri";', '}']);
});

test('rewrite-target: the URI replaced whole, with the path\'s capture groups under use-regex (a ~* location, longest regex first)', () => {
  const { text, problems } = renderNginxConf(input([
    annotated('re', 'blog.local', { 'use-regex': 'true', 'rewrite-target': '/$2' }, [
      { path: '/app(/|$)(.*)', pathType: 'ImplementationSpecific', backend: backend('api') },
      { path: '/a(/|$)(.*)', pathType: 'Prefix', backend: backend('web') },
      { path: '/exact', pathType: 'Exact', backend: backend('web') },
    ]),
    annotated('plain', 'plain.local', { 'rewrite-target': '/api/x' }, [{ path: '/short.v1', pathType: 'Prefix', backend: backend('api') }]),
  ]));
  assert.deepEqual(problems, []);
  assert.deepEqual(locationBody(text, 'blog.local', '~* "^/app(/|$)(.*)"'), ['rewrite "(?i)^/app(/|$)(.*)" "/$2" break;', 'proxy_pass http://default-api-80;']);
  const block = text.split('  server {').find((b) => b.includes('server_name blog.local;'))!;
  assert.ok(block.indexOf('location = "/exact"') < block.indexOf('location ~* "^/app'), 'exact first');
  assert.ok(block.indexOf('location ~* "^/app') < block.indexOf('location ~* "^/a(/'), 'the longer regex is tried first');
  assert.deepEqual(locationBody(text, 'plain.local', '"/short.v1/"'), ['rewrite "(?i)^/short\\.v1/" "/api/x" break;', 'proxy_pass http://default-api-80;'], 'a literal path is escaped');
  const bad = renderNginxConf(input([annotated('re', 'blog.local', { 'use-regex': 'true' }, [{ path: '/app(', pathType: 'ImplementationSpecific', backend: backend('api') }])]));
  assert.equal(bad.problems[0]!.reason, 'InvalidPath');
  assert.match(bad.problems[0]!.message, /path "\/app\(" is not a regular expression \(use-regex\)/);
});

test('backend-protocol, body size, timeouts, allowlist and permanent redirect become the location\'s directives', () => {
  const { text } = renderNginxConf(input([
    annotated('all', 'blog.local', {
      'backend-protocol': 'HTTPS',
      'proxy-body-size': '8m',
      'proxy-read-timeout': '120',
      'proxy-send-timeout': '30',
      'proxy-connect-timeout': '3',
      'allowlist-source-range': '10.0.0.0/8, 192.168.1.1',
    }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }]),
    annotated('moved', 'old.local', { 'permanent-redirect': 'https://new.example.com/' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }]),
    annotated('legacy', 'legacy.local', { 'whitelist-source-range': '127.0.0.1/32', 'permanent-redirect': 'http://x.example.com', 'permanent-redirect-code': '308' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }]),
  ]));
  assert.deepEqual(locationBody(text, 'blog.local', '"/"'), [
    'allow 10.0.0.0/8;',
    'allow 192.168.1.1;',
    'deny all;',
    'client_max_body_size 8m;',
    'proxy_connect_timeout 3s;',
    'proxy_send_timeout 30s;',
    'proxy_read_timeout 120s;',
    'proxy_pass https://default-web-80;',
  ]);
  assert.deepEqual(locationBody(text, 'old.local', '"/"'), ['return 301 "https://new.example.com/";', 'proxy_pass http://default-web-80;']);
  assert.deepEqual(locationBody(text, 'legacy.local', '"/"'), ['allow 127.0.0.1/32;', 'deny all;', 'return 308 "http://x.example.com";', 'proxy_pass http://default-web-80;']);
});

test('annotations podbay does not implement are a problem naming them; a bad value leaves that Ingress out, the others serve', () => {
  const { text, problems } = renderNginxConf(input([
    annotated('cors', 'cors.local', { 'enable-cors': 'true', 'configuration-snippet': 'more_set_headers "x: y";', 'ssl-redirect': 'false' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }]),
    annotated('odd', 'odd.local', { 'proxy-body-size': 'lots', 'backend-protocol': 'GRPC', 'allowlist-source-range': '10.0.0.0/33,x', 'ssl-redirect': 'yes' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }]),
    annotated('fine', 'fine.local', {}, [{ path: '/', pathType: 'Prefix', backend: backend('api') }]),
  ]));
  assert.deepEqual(problems.map((p) => `${p.ingress.metadata.name} ${p.reason}: ${p.message}`), [
    `cors UnsupportedAnnotation: podbay's ingress controller ignores ${NGX}configuration-snippet, ${NGX}enable-cors: not implemented (it honours ${NGX}{ssl-redirect, force-ssl-redirect, use-regex, rewrite-target, backend-protocol, proxy-body-size, proxy-*-timeout, allowlist-source-range, permanent-redirect})`,
    `odd InvalidAnnotation: ${NGX}ssl-redirect: "yes" is not a boolean ("true" or "false"); ${NGX}backend-protocol: "GRPC" is not supported by podbay (HTTP or HTTPS; ingress-nginx's GRPC, GRPCS, AJP and FCGI are not); ${NGX}proxy-body-size: "lots" is not a size (a number with an optional k, m or g suffix); ${NGX}allowlist-source-range: "10.0.0.0/33,x" holds "10.0.0.0/33", "x", not a CIDR or an IP address: the Ingress is not served`,
  ]);
  assert.doesNotMatch(text, /server_name odd\.local;/, 'the Ingress with a bad value is not rendered');
  assert.deepEqual(locationBody(text, 'cors.local', '"/"'), ['proxy_pass http://default-web-80;']);
  assert.deepEqual(locationBody(text, 'fine.local', '"/"'), ['proxy_pass http://default-api-80;']);
  const target = renderNginxConf(input([annotated('t', 't.local', { 'rewrite-target': '/x; return 200' }, [{ path: '/', pathType: 'Prefix', backend: backend('web') }])]));
  assert.match(target.problems[0]!.message, /rewrite-target: "\/x; return 200" holds a space/);
  assert.doesNotMatch(target.text, /return 200/);
});

test('every annotation renders into a file nginx accepts (nginx -t)', (t) => {
  if (!existsSync('/usr/sbin/nginx')) assert.fail('nginx is missing: install the Debian package nginx-light (scripts/setup-host.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'podbay-nginx-ann-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tmp'));
  // a real certificate: nginx -t loads it
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=blog.local'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `openssl failed (install openssl): ${gen.stderr}`);
  const files = { pid: join(dir, 'nginx.pid'), lock: join(dir, 'nginx.lock'), temp: join(dir, 'tmp'), user: 'nobody', group: 'nogroup' };
  const tls = new Map<string, any>([['default/blog-tls', { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }]]);
  const { text, problems } = renderNginxConf(input([
    annotated('re', 'blog.local', { 'use-regex': 'true', 'rewrite-target': '/$2', 'backend-protocol': 'HTTPS', 'proxy-body-size': '0', 'proxy-read-timeout': '5', 'allowlist-source-range': '127.0.0.1/32,::1' }, [
      { path: '/app(/|$)(.*)', pathType: 'ImplementationSpecific', backend: backend('api') },
      { path: '/', pathType: 'Prefix', backend: backend('web') },
    ], { tls: [{ hosts: ['blog.local'], secretName: 'blog-tls' }] }),
    annotated('moved', 'old.local', { 'permanent-redirect': 'https://new.example.com/a?b=c', 'force-ssl-redirect': 'true', 'rewrite-target': '/x' }, [{ path: '/p', pathType: 'Prefix', backend: backend('missing') }]),
  ], { files, tls }));
  assert.deepEqual(problems.map((p) => p.reason), ['ServiceNotFound']);
  writeFileSync(join(dir, 'nginx.conf'), text);
  const r = spawnSync('/usr/sbin/nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-t'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stderr}\n${text}`);
});
