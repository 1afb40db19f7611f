/**
 * The web view's files, served as they are (no build step, no CDN: the page works offline).
 * The page is a login form until a token is given (pasted, or taken from a pasted kubeconfig);
 * the token lives in the tab's sessionStorage and goes in an Authorization header, never in a
 * URL. Everything shown comes from the API with that token: the pod list from a list + watch
 * of /api/v1/pods, a pod's tables from its podexplain (JSON) and the diagram from the same
 * endpoint as SVG, shown through an <img> (an image cannot run scripts). Data is put in the
 * page with textContent only.
 */

export const UI_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podbay</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/app.css"></head>
<body>
<section id="login" hidden>
  <h1>podbay</h1>
  <form id="login-form">
    <label for="cred">The admin token, or the whole kubeconfig (podbay kubeconfig)</label>
    <textarea id="cred" rows="8" autocomplete="off" spellcheck="false"></textarea>
    <button type="submit" id="login-button">Log in</button>
    <p id="login-error" role="alert"></p>
  </form>
</section>
<section id="main" hidden>
  <header><h1>podbay</h1><span id="node"></span><button id="logout">Log out</button></header>
  <div class="cols">
    <nav><h2>Pods</h2><ul id="pods"></ul></nav>
    <article id="detail"><p>Choose a pod to see the Linux reality behind it.</p></article>
  </div>
</section>
<script src="/ui/app.js"></script>
</body></html>
`;

export const UI_CSS = `body{font-family:DejaVu Sans,sans-serif;margin:0;color:#222;background:#fafafa}
h1{margin:0;font-size:20px}h2{font-size:16px;margin:12px 0 6px}h3{font-size:14px;margin:14px 0 4px}
#login{max-width:560px;margin:60px auto;padding:20px;background:#fff;border:1px solid #ccc;border-radius:8px}
#login textarea{width:100%;box-sizing:border-box;font-family:DejaVu Sans Mono,monospace;font-size:12px}
#login label{display:block;margin:12px 0 6px}#login-error{color:#a33}
header{display:flex;gap:16px;align-items:center;padding:10px 16px;background:#264;color:#fff}
header #logout{margin-left:auto}.cols{display:flex;gap:16px;padding:0 16px}
nav{min-width:240px}nav ul{list-style:none;padding:0;margin:0}
nav li button{width:100%;text-align:left;padding:6px;margin:2px 0;border:1px solid #ccc;border-radius:6px;background:#fff;cursor:pointer}
nav li button.sel{border-color:#264;background:#e8f6e8}.phase{float:right;color:#555;font-size:12px}
article{flex:1;overflow:auto}article img{max-width:100%;border:1px solid #ddd;background:#fff}
table{border-collapse:collapse;font-size:12px;margin:4px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
code,.mono{font-family:DejaVu Sans Mono,monospace;font-size:12px}.shared{background:#e8f6e8}.note{color:#a33}
`;

export const UI_JS = String.raw`'use strict';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('podbay-token');
let watchAbort;
let selected;
let refreshTimer;
const pods = new Map();
const keyOf = (p) => p.metadata.namespace + '/' + p.metadata.name;

/** a token, or the token: line of a pasted kubeconfig */
function tokenFrom(text) {
  const m = /^\s*token:\s*["']?([^"'\s]+)["']?\s*$/m.exec(text);
  return m ? m[1] : text.trim().split(/\s+/)[0] || '';
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function showLogin(msg) {
  $('main').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = msg || '';
}

function logout(msg) {
  sessionStorage.removeItem('podbay-token');
  token = null;
  if (watchAbort) watchAbort.abort();
  pods.clear();
  selected = undefined;
  $('pods').textContent = '';
  $('detail').textContent = '';
  showLogin(msg);
}

async function api(path, accept, signal) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token, Accept: accept || 'application/json' }, signal, cache: 'no-store' });
  if (r.status === 401) {
    logout('That token was refused (401 Unauthorized).');
    throw new Error('unauthorized');
  }
  return r;
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = tokenFrom($('cred').value);
  $('cred').value = '';
  start();
});
$('logout').addEventListener('click', () => logout());

async function start() {
  if (!token) return showLogin();
  let list;
  try {
    const r = await api('/api/v1/pods');
    if (!r.ok) throw new Error('listing pods: ' + r.status);
    list = await r.json();
  } catch (e) {
    if (token) showLogin(String(e.message || e));
    return;
  }
  sessionStorage.setItem('podbay-token', token);
  $('login').hidden = true;
  $('main').hidden = false;
  pods.clear();
  for (const p of list.items) pods.set(keyOf(p), p);
  renderList();
  api('/api/v1/nodes').then((r) => r.json()).then((l) => { $('node').textContent = l.items.map((n) => 'node ' + n.metadata.name).join(', '); }).catch(() => {});
  watch(list.metadata.resourceVersion);
}

async function watch(rv) {
  if (watchAbort) watchAbort.abort();
  const ctl = new AbortController();
  watchAbort = ctl;
  let r;
  try {
    r = await api('/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=' + encodeURIComponent(rv), 'application/json', ctl.signal);
  } catch (e) {
    if (!ctl.signal.aborted && token) setTimeout(() => watch(rv), 1000);
    return;
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line);
        if (ev.type === 'ERROR') return start(); // e.g. 410 Gone: list again
        rv = ev.object.metadata.resourceVersion || rv;
        if (ev.type === 'BOOKMARK') continue;
        const k = keyOf(ev.object);
        if (ev.type === 'DELETED') pods.delete(k);
        else pods.set(k, ev.object);
        renderList();
        if (k === selected) scheduleRefresh();
      }
    }
  } catch (e) {
    if (ctl.signal.aborted) return;
  }
  if (!ctl.signal.aborted && token) watch(rv);
}

function restarts(p) {
  return (p.status && p.status.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0);
}

function renderList() {
  const ul = $('pods');
  ul.textContent = '';
  for (const k of [...pods.keys()].sort()) {
    const p = pods.get(k);
    const li = el('li');
    const b = el('button', k);
    b.dataset.pod = k;
    if (k === selected) b.className = 'sel';
    const phase = (p.metadata.deletionTimestamp ? 'Terminating' : (p.status && p.status.phase) || 'Pending') + (restarts(p) ? ' · ' + restarts(p) + ' restarts' : '');
    b.append(el('span', phase, 'phase'));
    b.addEventListener('click', () => { selected = k; renderList(); showPod(k); });
    li.append(b);
    ul.append(li);
  }
  if (selected && !pods.has(selected)) {
    $('detail').textContent = '';
    $('detail').append(el('p', 'Pod ' + selected + ' is gone.', 'note'));
    selected = undefined;
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => selected && showPod(selected), 300);
}

function table(head, rows) {
  const t = el('table');
  const tr = el('tr');
  for (const h of head) tr.append(el('th', h));
  t.append(tr);
  for (const r of rows) {
    const row = el('tr');
    for (const c of r) {
      const td = el('td', c && typeof c === 'object' ? c.text : c);
      if (c && typeof c === 'object' && c.cls) td.className = c.cls;
      row.append(td);
    }
    t.append(row);
  }
  return t;
}

function flatten(node, depth, out) {
  out.push([' '.repeat(depth * 2) + node.comm, node.hostPid, node.podPid === undefined ? '' : node.podPid, node.cmdline]);
  for (const c of node.children) flatten(c, depth + 1, out);
  return out;
}

async function showPod(k) {
  const i = k.indexOf('/');
  const path = '/apis/podbay.io/v1alpha1/namespaces/' + encodeURIComponent(k.slice(0, i)) + '/podexplains/' + encodeURIComponent(k.slice(i + 1));
  let e, svg;
  try {
    const [j, s] = await Promise.all([api(path), api(path, 'image/svg+xml')]);
    e = await j.json();
    if (!j.ok) throw new Error(e.message || String(j.status));
    svg = await s.text();
  } catch (err) {
    if (k !== selected) return;
    $('detail').textContent = '';
    $('detail').append(el('p', 'Cannot explain ' + k + ': ' + (err.message || err), 'note'));
    return;
  }
  if (k !== selected) return;
  const d = $('detail');
  d.textContent = '';
  d.append(el('h2', 'pod ' + k + ' · ' + e.phase));
  for (const n of e.notes) d.append(el('p', n, 'note'));
  for (const m of e.missing) d.append(el('p', m.part + ': ' + m.why, 'note'));
  const img = el('img');
  img.id = 'diagram';
  img.alt = 'diagram of pod ' + k;
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
  d.append(img);
  const types = ['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup', 'user'];
  d.append(el('h3', 'Namespaces (inodes; green: the same as pause\'s)'));
  d.append(table(['', 'host PID', 'pod PID', ...types], e.namespaces.rows.map((r) => [r.name, r.hostPid, r.podPid, ...types.map((t) => r.ns[t] ? { text: r.ns[t].inode + (r.ns[t].host ? ' (host)' : ''), cls: r.role !== 'pause' && r.ns[t].shared ? 'shared' : '' } : '')])));
  for (const x of e.namespaces.differences) d.append(el('p', x));
  const n = e.network;
  d.append(el('h3', 'Network'));
  d.append(table(['interface', 'ifindex', 'kind', 'addresses'], n.interfaces.map((x) => [x.name, x.ifindex, x.kind || '', x.addresses.join(' ')])));
  if (n.veth) d.append(el('p', 'veth pair: ' + n.veth.podIfname + ' (if ' + n.veth.podIfindex + ', in the pod) <-> ' + n.veth.hostIfname + ' (if ' + n.veth.hostIfindex + ', on the host), bridge ' + (n.veth.bridge || '?') + ', gateway ' + (n.gateway || '?')));
  if (n.natRules.length) d.append(table(['chain', 'rule (iptables -t nat)'], n.natRules.map((r) => [r.chain, { text: r.rule, cls: 'mono' }])));
  d.append(el('h3', 'Processes'));
  d.append(table(['process', 'host PID', 'pod PID', 'command'], e.processes.flatMap((t) => t.root ? flatten(t.root, 0, [[{ text: t.name, cls: 'shared' }, '', '', '']]) : [[t.name, '', '', 'not running']])));
  d.append(el('h3', 'Volumes'));
  d.append(table(['volume', 'type', 'on the host', 'mounts'], e.volumes.map((v) => [v.name, v.type, v.hostPath || '', v.mounts.map((m) => m.container + ':' + m.mountPath + ' ' + (m.readOnly ? 'ro' : 'rw') + (m.subPath ? ' subPath ' + m.subPath : '')).join(', ')])));
}

start();
`;
