import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderText, wrapLine, wrapShell, TEXT_WIDTH } from './text.js';
import { shellWords } from './recipe.js';
import { sampleExplain } from './sample.js';
import type { NsRow } from './types.js';

function assertFits(text: string): void {
  const long = text.split('\n').filter((l) => [...l].length > TEXT_WIDTH);
  assert.deepEqual(long, [], 'every line fits 80 columns');
}

test('the sample pod renders in 80 columns with the picture and every section', () => {
  const t = renderText(sampleExplain());
  assertFits(t);
  for (const want of ['PICTURE', 'NAMESPACES', 'NETWORK', 'PROCESSES', 'VOLUMES', 'BY HAND', "THE SEED'S DOCKER RECIPE"]) assert.match(t, new RegExp(`^${want}`, 'm'));
  // the diagram: the hostPort arrow, the bridge box, the veth ends, the pod box with its containers
  assert.match(t, /^ {2}tcp 0\.0\.0\.0:19900 ══DNAT══▶ 10\.221\.0\.2:8080 \(web\)$/m);
  assert.match(t, /^ {2}┌─ bridge pbexplain0 \(if 968\) 10\.221\.0\.1\/24/m);
  assert.match(t, /│ veth62a44b5a \(if 969\): the host end of the veth pair/);
  assert.match(t, /┌─ pod default\/duo · netns 4026532177 ─+┐$/m);
  assert.match(t, /│ ┌─ pause ─+┐ ┌─ web ─+┐ ┌─ helper ─+┐/);
  // shared cells are marked, own ones are not
  assert.match(t, /^ {2}web +31493 +1 +4026532177\* +4026532251\* +4026532250\* +4026532254$/m);
  assert.match(t, /^ {2}pause +31433 +1 +4026532249 +4026531835h +4026531837h$/m);
  // the long hostPort jump is wrapped, not cut: every word of it is there
  const rule = sampleExplain().network.natRules[1]!.rule;
  assert.ok(t.replace(/\n {8}/g, ' ').includes(rule), 'the wrapped rule reads back whole');
});

test('the docker recipe wraps between shell words only, with a backslash on each broken line', () => {
  const cmd = sampleExplain().dockerRecipe[2]!;
  const lines = wrapShell(cmd);
  assert.ok(lines.length > 1);
  for (const l of lines) assert.ok([...l].length <= TEXT_WIDTH, l);
  for (const l of lines.slice(0, -1)) assert.ok(l.endsWith(' \\'), l);
  const rejoined = lines.map((l) => l.replace(/ \\$/, '').trim()).join(' ');
  assert.deepEqual(shellWords(rejoined), shellWords(cmd));
  assert.ok(shellWords(cmd).includes("'sleep 3600 & wait'"));
});

test('many containers with long names, a hostNetwork pod and a pod with nothing running all fit', () => {
  const base = sampleExplain();
  const rows: NsRow[] = [base.namespaces.rows[0]!];
  for (let i = 0; i < 7; i++) rows.push({ ...base.namespaces.rows[1]!, name: `a-very-long-container-name-number-${i}`, hostPid: 4_000_000 + i });
  assertFits(renderText({ ...base, namespaces: { ...base.namespaces, rows } }));
  const hn = renderText(
    sampleExplain({
      hostNetwork: true,
      notes: ["This pod uses the host's network namespace (hostNetwork: true): its net namespace is the host's (inode 4026531833, the same as the node's)."],
      network: { ...base.network, hostNetwork: true, veth: undefined, bridge: undefined, natRules: [], netnsInode: 4026531833 },
    }),
  );
  assertFits(hn);
  assert.match(hn, /no netns of its own: the host's \(inode 4026531833\)/);
  assert.doesNotMatch(hn, /DNAT══▶/);
  const none = renderText(
    sampleExplain({
      phase: 'Pending',
      missing: [{ part: 'container web (its process and namespaces)', why: 'it is waiting (ErrImageNeverPull: Container image "nosuch:1" is not present with pull policy of Never)' }],
      notes: ['Parts of this pod do not exist yet: container web (its process and namespaces).'],
      namespaces: { host: {}, rows: [], differences: [] },
      network: { hostNetwork: false, podIPs: [], interfaces: [], routes: [], hostPorts: [], natRules: [] },
      processes: [],
      byHand: [],
    }),
  );
  assertFits(none);
  assert.match(none, /none yet: no process of the pod is running/);
  assert.match(none.replace(/\s+/g, ' '), /- container web \(its process and namespaces\): it is waiting \(ErrImageNeverPull/);
});

test('wrapLine breaks at spaces, else after a slash, else hard; nothing is lost', () => {
  const path = '    on the host: /var/lib/podbay/pods/fb2ff67a-8525-4097-90a8-2ff4b8753384/volumes/kubernetes.io~configmap/site';
  const lines = wrapLine(path, 80, '      ');
  assert.ok(lines.every((l) => l.length <= 80));
  assert.ok(lines[0]!.endsWith('/'), lines[0]);
  assert.equal(lines.map((l, i) => (i ? l.slice(6) : l)).join(''), path);
  const word = 'x'.repeat(200);
  assert.ok(wrapLine(word).every((l) => l.length <= 80));
  assert.equal(wrapLine(word, 80, '').join(''), word);
});
