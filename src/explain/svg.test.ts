import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg, xmlEscape } from './svg.js';
import { sampleExplain } from './sample.js';

test('the SVG shows the bridge, the veth, the pod and every container box', () => {
  const svg = renderSvg(sampleExplain());
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
  for (const want of ['bridge pbexplain0 (if 968)', 'veth62a44b5a (if 969)', 'pod default/duo', '>pause<', '>web<', '>helper<', '19900 → DNAT → 10.221.0.2:8080']) {
    assert.ok(svg.includes(want), `svg shows ${want}`);
  }
  // balanced elements: every <text> closed
  assert.equal(svg.match(/<text /g)!.length, svg.match(/<\/text>/g)!.length);
});

test('names are data, never markup', () => {
  const e = sampleExplain();
  e.namespaces.rows[1]!.name = '<script>alert(1)</script>';
  const svg = renderSvg(e);
  assert.ok(!svg.includes('<script>'));
  assert.ok(svg.includes('&lt;script&gt;'));
  assert.equal(xmlEscape(`a&"'<>`), 'a&amp;&quot;&#39;&lt;&gt;');
});

test('a hostNetwork pod: no bridge or veth, a sentence instead', () => {
  const base = sampleExplain();
  const svg = renderSvg(sampleExplain({ hostNetwork: true, network: { ...base.network, hostNetwork: true, veth: undefined, bridge: undefined } }));
  assert.ok(svg.includes('shares the host&#39;s network namespace'));
  assert.ok(!svg.includes('bridge pbexplain0'));
});
