/**
 * The explanation's diagram as a standalone SVG (no external fonts or scripts, so a browser
 * shows it offline): the host, the bridge with its address, the veth pair, the pod box with
 * its interfaces and one box per process (pause + containers), and hostPort arrows into it.
 * Every string is XML-escaped: container names and addresses are data, never markup.
 */
import type { PodExplain } from './types.js';

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderSvg(e: PodExplain): string {
  const n = e.network;
  const W = 760;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, attrs = '') => parts.push(`<text x="${x}" y="${y}" ${attrs}>${xmlEscape(s)}</text>`);
  const rect = (x: number, y: number, w: number, h: number, cls: string) => parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8" class="${cls}"/>`);
  let y = 20;
  let arrowFrom: number | undefined;
  rect(10, 10, W - 20, 0, 'host'); // height patched below
  const hostIdx = parts.length - 1;
  text(24, (y += 14), 'host', 'class="title"');
  y += 10;
  if (!n.hostNetwork) {
    for (const hp of n.hostPorts) {
      text(48, (y += 16), `${hp.protocol.toLowerCase()} ${hp.hostIP || '0.0.0.0'}:${hp.hostPort} → DNAT → ${n.podIPs[0] ?? '?'}:${hp.containerPort} (${hp.container})`, 'class="port"');
    }
    if (n.hostPorts.length) y += 10;
    const brY = y;
    rect(30, brY, W - 60, 44, 'bridge');
    text(44, brY + 18, n.bridge ? `bridge ${n.bridge.name} (if ${n.bridge.ifindex})` : `bridge ${n.veth?.bridge ?? '(none yet)'}`, 'class="title"');
    text(44, brY + 35, `${n.bridge?.addresses.join(' ') ?? ''}  gateway of the pod: ${n.gateway ?? '?'}`);
    y = brY + 44;
    if (n.hostPorts.length) arrowFrom = brY - 16 * n.hostPorts.length - 4;
    if (n.veth) {
      parts.push(`<line x1="120" y1="${y}" x2="120" y2="${y + 60}" class="veth"/>`);
      text(132, y + 22, `${n.veth.hostIfname} (if ${n.veth.hostIfindex}): host end of the veth pair`);
      text(132, y + 44, `${n.veth.podIfname} (if ${n.veth.podIfindex}): pod end, in the pod's netns`);
    }
    y += 60;
  } else {
    text(30, (y += 16), "hostNetwork: the pod shares the host's network namespace (no veth, no DNAT)", 'class="port"');
    y += 10;
  }
  const podY = y;
  const boxes = e.namespaces.rows;
  const perRow = 4;
  const bw = (W - 100 - (perRow - 1) * 12) / perRow;
  const ifaces = n.hostNetwork ? [] : n.interfaces;
  const rowsH = Math.ceil(Math.max(1, boxes.length) / perRow) * 100;
  const podH = 40 + ifaces.length * 18 + 10 + rowsH;
  rect(40, podY, W - 80, podH, 'pod');
  // hostPort traffic: DNAT on the host, then over the bridge into the pod
  const ethRow = Math.max(0, ifaces.findIndex((i) => i.name === n.veth?.podIfname)) + 1;
  const ethY = podY + 22 + 18 * (ifaces.length ? ethRow : 0) - 4;
  if (arrowFrom !== undefined) parts.push(`<path d="M 34 ${arrowFrom} L 34 ${ethY} L 46 ${ethY}" class="arrow" marker-end="url(#head)"/>`);
  text(54, podY + 22, `pod ${e.metadata.namespace}/${e.metadata.name}${n.netnsInode ? ` · netns ${n.netnsInode}` : ''}`, 'class="title"');
  let iy = podY + 22;
  for (const i of ifaces) text(54, (iy += 18), `${i.name} (if ${i.ifindex}) ${i.addresses.join(' ')}`, 'class="iface"');
  const by = iy + 14;
  if (!boxes.length) text(54, by + 20, 'no process running yet');
  boxes.forEach((r, k) => {
    const x = 54 + (k % perRow) * (bw + 12);
    const yy = by + Math.floor(k / perRow) * 100;
    rect(x, yy, bw, 88, r.role === 'pause' ? 'pause' : 'ctr');
    text(x + 10, yy + 20, r.name, 'class="title"');
    text(x + 10, yy + 40, `host PID ${r.hostPid}`);
    text(x + 10, yy + 58, `pod PID ${r.podPid}`);
    text(x + 10, yy + 76, r.role === 'pause' ? 'catatonit -P' : `pid ns ${r.ns.pid?.shared ? 'shared' : 'own'}`);
  });
  y = podY + podH + 16;
  parts[hostIdx] = `<rect x="10" y="10" width="${W - 20}" height="${y - 10}" rx="8" class="host"/>`;
  const H = y + 10;
  const style =
    'text{font-family:DejaVu Sans,sans-serif;font-size:13px;fill:#222}.title{font-weight:bold}.port{fill:#a33}' +
    '.host{fill:#f6f6f6;stroke:#888}.bridge{fill:#dbe9ff;stroke:#36c}.pod{fill:#e8f6e8;stroke:#393}' +
    '.pause{fill:#fff4d6;stroke:#c90}.ctr{fill:#fff;stroke:#393}.veth{stroke:#36c;stroke-width:4}' +
    '.arrow{stroke:#a33;stroke-width:2;fill:none;stroke-dasharray:6 4}.iface{font-family:DejaVu Sans Mono,monospace}';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<title>${xmlEscape(`pod ${e.metadata.namespace}/${e.metadata.name}`)}</title><style>${style}</style>` +
    `<defs><marker id="head" markerWidth="10" markerHeight="8" refX="8" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#a33"/></marker></defs>` +
    parts.join('') +
    '</svg>\n'
  );
}
