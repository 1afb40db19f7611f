/**
 * The text rendering of an explanation, for an 80-column terminal: a box diagram first (host
 * bridge, veth, the pod box with its interfaces and containers, hostPort arrows), then one
 * section per part. Every line fits in `width` columns: long lines (rules, paths, commands) are
 * wrapped with an indented continuation.
 */
import { shellWords } from './recipe.js';
import { NS_TYPES, type NsRow, type NsType, type PodExplain, type ProcNode } from './types.js';

export const TEXT_WIDTH = 80;

/** Break a line at spaces (or hard, for a long word) so no piece exceeds `width`. */
export function wrapLine(line: string, width = TEXT_WIDTH, cont = '    '): string[] {
  if ([...line].length <= width) return [line];
  const out: string[] = [];
  let rest = line;
  let first = true;
  while ([...rest].length > width || (!first && [...(cont + rest)].length > width)) {
    const room = first ? width : width - cont.length;
    const chars = [...rest];
    const head = chars.slice(0, room + 1).join('');
    let cut = head.lastIndexOf(' ');
    if (cut <= 0 || cut < room / 3) cut = head.slice(0, -1).lastIndexOf('/') + 1;
    if (cut <= 0 || cut < room / 3) cut = chars.slice(0, room).join('').length;
    out.push((first ? '' : cont) + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    first = false;
    if (!rest) break;
  }
  if (rest) out.push((first ? '' : cont) + rest);
  return out;
}

/** A shell command over several lines, broken between words only, each but the last ending in a backslash. */
export function wrapShell(cmd: string, width = TEXT_WIDTH, indent = '  ', cont = '      '): string[] {
  const out: string[] = [];
  let line = indent;
  for (const w of shellWords(cmd)) {
    const lead = line.trim() ? ' ' : '';
    if (line.trim() && [...(line + lead + w)].length > width - 2) {
      out.push(line + ' \\');
      line = cont + w;
    } else line += lead + w;
  }
  out.push(line);
  return out;
}

const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - [...s].length));
const cut = (s: string, n: number) => ([...s].length <= n ? s : [...s].slice(0, n - 1).join('') + '…');

/** A box of `width` columns: ┌─ title ─┐ / │ line │ / └──┘ */
function box(title: string, lines: string[], width: number): string[] {
  const inner = width - 4;
  const t = title ? `─ ${cut(title, width - 6)} ` : '';
  const top = `┌${t}${'─'.repeat(Math.max(0, width - 2 - [...t].length))}┐`;
  return [top, ...lines.map((l) => `│ ${pad(cut(l, inner), inner)} │`), `└${'─'.repeat(width - 2)}┘`];
}

/** Boxes side by side, `perRow` to a row, each `w` wide, separated by one space. */
function boxRows(boxes: string[][], perRow: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i += perRow) {
    const row = boxes.slice(i, i + perRow);
    const h = Math.max(...row.map((b) => b.length));
    for (let y = 0; y < h; y++) out.push(row.map((b) => b[y] ?? ' '.repeat([...b[0]!].length)).join(' '));
  }
  return out;
}

function diagram(e: PodExplain, width: number): string[] {
  const n = e.network;
  const out: string[] = [];
  const pauseRow = e.namespaces.rows.find((r) => r.role === 'pause');
  const cell = (r: NsRow) => [`host PID ${r.hostPid}`, `pod PID ${r.podPid}`];
  const ctrBoxes = [
    ...(pauseRow ? [box('pause', [...cell(pauseRow), 'catatonit -P', "holds the pod's", 'namespaces'], 19)] : []),
    ...e.namespaces.rows.filter((r) => r.role === 'container').map((r) => box(r.name, [...cell(r), ...(['net', 'ipc', 'pid'] as const).map((t) => `${t} ${r.ns[t]?.shared ? 'shared' : 'own'}`)], 19)),
  ];
  const podLines: string[] = [];
  if (n.hostNetwork) podLines.push(`no netns of its own: the host's (inode ${n.netnsInode ?? '?'})`);
  else {
    for (const i of n.interfaces) podLines.push(`${i.name} (if ${i.ifindex}) ${i.addresses.join(' ') || 'no address'}`);
  }
  podLines.push('');
  podLines.push(...boxRows(ctrBoxes, 3));
  if (!ctrBoxes.length) podLines.push('(no process running yet)');
  const podTitle = `pod ${e.metadata.namespace}/${e.metadata.name}${n.netnsInode && !n.hostNetwork ? ` · netns ${n.netnsInode}` : ''}`;
  out.push('host');
  if (n.hostNetwork) {
    out.push(...box(podTitle, podLines, width - 2).map((l) => `  ${l}`));
    return out;
  }
  for (const hp of n.hostPorts) {
    out.push(`  ${hp.protocol.toLowerCase()} ${hp.hostIP || '0.0.0.0'}:${hp.hostPort} ══DNAT══▶ ${n.podIPs[0] ?? '?'}:${hp.containerPort} (${hp.container})`);
  }
  if (n.bridge || n.veth) {
    const br = n.bridge ? `bridge ${n.bridge.name} (if ${n.bridge.ifindex}) ${n.bridge.addresses.join(' ')}` : `bridge ${n.veth?.bridge ?? '?'}`;
    out.push(...box(br, [`gateway of the pod: ${n.gateway ?? '?'}`], width - 2).map((l) => `  ${l}`));
    if (n.veth) {
      out.push(`        │ ${n.veth.hostIfname} (if ${n.veth.hostIfindex}): the host end of the veth pair`);
      out.push(`        │ ${n.veth.podIfname} (if ${n.veth.podIfindex}): the pod end, in the pod's netns`);
    }
  }
  out.push(...box(podTitle, podLines, width - 2).map((l) => `  ${l}`));
  return out;
}

function nsCell(c: NsRow['ns'][NsType], role: string): string {
  if (!c) return '-';
  return `${c.inode}${role !== 'pause' && c.shared ? '*' : ''}${c.host ? 'h' : ''}`;
}

function nsTable(rows: NsRow[], types: readonly NsType[]): string[] {
  const head = `${pad('', 10)}${pad('HOST PID', 9)}${pad('IN POD', 7)}${types.map((t) => pad(t, 13)).join('')}`;
  return [head.trimEnd(), ...rows.map((r) => `${pad(cut(r.name, 9), 10)}${pad(String(r.hostPid), 9)}${pad(String(r.podPid), 7)}${types.map((t) => pad(nsCell(r.ns[t], r.role), 13)).join('')}`.trimEnd())];
}

function procLines(n: ProcNode, depth: number): string[] {
  const where = `host PID ${n.hostPid}${n.podPid !== undefined ? `, pod PID ${n.podPid}` : ''}`;
  const lead = depth ? `${'   '.repeat(depth - 1)}└─ ` : '';
  const head = `    ${lead}${n.comm} (${where}): ${n.cmdline}`;
  return [cut(head, TEXT_WIDTH), ...n.children.flatMap((c) => procLines(c, depth + 1))];
}

export function renderText(e: PodExplain, width = TEXT_WIDTH): string {
  const L: string[] = [];
  const n = e.network;
  L.push(`Pod ${e.metadata.namespace}/${e.metadata.name}: ${e.phase}${e.node ? ` on node ${e.node}` : ''}${e.sandboxId ? `, sandbox ${e.sandboxId.slice(0, 12)}` : ''}`);
  const prose = (text: string) => wrapLine(text, width, '');
  for (const note of e.notes) L.push('', ...prose(note));
  for (const m of e.missing) L.push(`  - ${m.part}: ${m.why}`);
  L.push('', 'PICTURE', ...diagram(e, width));
  const pauseRow = e.namespaces.rows.find((r) => r.role === 'pause');
  if (pauseRow && !n.hostNetwork) {
    L.push(
      '',
      ...prose(`Why one eth0 for the whole pod: the pause process (host PID ${pauseRow.hostPid}) holds the pod's network namespace, and every container joins it, so they share ${n.veth?.podIfname ?? 'eth0'}, its address and localhost.` +
        (n.veth ? ` The other end of that veth, ${n.veth.hostIfname}, is a port of the bridge ${n.veth.bridge ?? n.bridge?.name ?? ''} on the host.` : '') +
        (n.hostPorts.length && n.natRules.length ? ` A packet to a hostPort is rewritten (DNAT) to ${n.podIPs[0] ?? "the pod's IP"} and routed over the bridge into the pod.` : '')),
    );
  }

  L.push('', 'NAMESPACES (inode of /proc/PID/ns/TYPE for each process)');
  if (!e.namespaces.rows.length) L.push('  none yet: no process of the pod is running');
  else {
    L.push(...nsTable(e.namespaces.rows, NS_TYPES.slice(0, 4)).map((l) => `  ${l}`));
    L.push('');
    L.push(...nsTable(e.namespaces.rows, NS_TYPES.slice(4)).map((l) => `  ${l}`));
    L.push("  * the same namespace as pause's (shared)   h the host's (the node's own)");
    L.push('', '  Compared with the docker recipe of the seed tutorial:');
    for (const d of e.namespaces.differences) L.push(`  - ${d}`);
  }

  L.push('', `NETWORK${n.netnsInode ? ` (netns inode ${n.netnsInode})` : ''}`);
  if (!n.interfaces.length) L.push('  no network namespace yet');
  for (const i of n.hostNetwork ? n.interfaces.slice(0, 8) : n.interfaces) {
    const peer = i.peerIfindex !== undefined ? `, peer if ${i.peerIfindex}` : '';
    L.push(`  ${i.name} (if ${i.ifindex}${i.kind ? `, ${i.kind}` : ''}${peer}) ${i.addresses.join(' ') || 'no address'}`);
  }
  if (n.hostNetwork && n.interfaces.length > 8) L.push(`  ... and ${n.interfaces.length - 8} more of the host's interfaces`);
  if (n.veth) L.push(`  veth pair: ${n.veth.podIfname} (if ${n.veth.podIfindex}, in the pod) <-> ${n.veth.hostIfname} (if ${n.veth.hostIfindex}, on the host)${n.veth.bridge ? `, attached to ${n.veth.bridge}` : ''}`);
  if (n.bridge) L.push(`  bridge ${n.bridge.name} (if ${n.bridge.ifindex}) ${n.bridge.addresses.join(' ')}; the pod's gateway is ${n.gateway ?? 'not set'}`);
  if (n.routes.length) L.push('  routes:');
  for (const r of n.routes) L.push(`    ${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.src ? ` src ${r.src}` : ''}`);
  if (n.hostPorts.length) L.push('  hostPorts:');
  for (const hp of n.hostPorts) L.push(`    ${hp.protocol} ${hp.hostIP || '0.0.0.0'}:${hp.hostPort} -> ${hp.hostPort && n.hostNetwork ? 'the host itself' : `${n.podIPs[0] ?? '?'}:${hp.containerPort}`} (${hp.container})`);
  if (n.natRules.length) {
    L.push('  iptables rules that send those ports to this pod (table nat):');
    for (const r of n.natRules) L.push(...wrapLine(`    ${r.rule}`, width, '        '));
  } else if (n.hostPorts.length && !n.hostNetwork) L.push('  no nat rule sends a hostPort to this pod now');

  L.push('', 'PROCESSES (conmon -> the container\'s init, once `runc init` -> its children)');
  if (!e.processes.length) L.push('  none running');
  for (const t of e.processes) {
    L.push(`  ${t.name}`);
    if (t.root) L.push(...procLines(t.root, 0));
    else L.push('    not running');
  }

  L.push('', 'VOLUMES');
  if (!e.volumes.length) L.push('  none');
  for (const v of e.volumes) {
    L.push(`  ${v.name} (${v.type})${v.exists ? '' : ' - not on the host (yet)'}`);
    if (v.hostPath) L.push(...wrapLine(`    on the host: ${v.hostPath}`, width, '      '));
    if (v.dataLink !== undefined) L.push(`    ..data -> ${v.dataLink}`);
    if (v.keys) L.push(...wrapLine(`    keys: ${v.keys.join(', ') || '(none)'}`, width, '      '));
    for (const m of v.mounts) {
      const k = m.kernel ? ` (kernel: ${m.kernel})` : '';
      L.push(...wrapLine(`    ${m.container}: ${m.mountPath} ${m.readOnly ? 'ro' : 'rw'}${k}${m.subPath ? `, subPath ${m.subPath}` : ''}`, width, '      '));
    }
  }

  L.push('', 'BY HAND (standard tools, as root on the node)');
  for (const c of e.byHand) {
    L.push(`  # ${c.what}`);
    L.push(...wrapLine(`  ${c.command}`, width, '      '));
  }
  L.push('', 'THE SEED\'S DOCKER RECIPE FOR THIS POD (pause first, the others join it)');
  for (const cmd of e.dockerRecipe) L.push(...wrapShell(cmd, width));
  return L.flatMap((l) => wrapLine(l, width)).join('\n') + '\n';
}
