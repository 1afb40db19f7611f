/**
 * Go's string order (byte-wise, as `sort.Strings` and `<` on strings): the order Kubernetes
 * lists, sorts and breaks ties in. Not `localeCompare`, which is a locale's collation (it differs
 * for case and punctuation) and pages in ICU's collation data (~3 MB of the engine's memory).
 */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** runs of digits compared as numbers, the rest byte-wise ("10.0.0.9" before "10.0.0.10"), without ICU */
export function byNatural(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (dx && dy) {
      const nx = x.replace(/^0+(?=.)/, '');
      const ny = y.replace(/^0+(?=.)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return byString(nx, ny);
    }
    return byString(x, y);
  }
  return ra.length - rb.length;
}
