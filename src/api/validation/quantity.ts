/**
 * A small exact implementation of k8s.io/apimachinery/pkg/api/resource.Quantity: parsing,
 * comparison and the canonical string form kube-apiserver returns ("1000m" -> "1",
 * "1024Mi" -> "1Gi", "0.5" -> "500m").
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** value = num / den (den > 0), exact. */
export interface Quantity {
  num: bigint;
  den: bigint;
  format: QuantityFormat;
}

export const QUANTITY_REGEX_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

const pow10 = (n: number): bigint => 10n ** BigInt(n);

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b) [a, b] = [b, a % b];
  return a;
}

function make(num: bigint, den: bigint, format: QuantityFormat): Quantity {
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g, format };
}

/** Parses "500m", "1.5Gi", "1e3", 2 (numbers are accepted too). Returns null if malformed. */
export function parseQuantity(input: unknown): Quantity | null {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return null;
    input = String(input);
    if ((input as string).includes('e')) return null;
  }
  if (typeof input !== 'string') return null;
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(input);
  if (!m) return null;
  const [, sign, intPart, fracPart = '', suffix] = m;
  if (intPart.length === 0 && fracPart.length === 0) return null;
  let num = BigInt((intPart || '0') + fracPart) * (sign === '-' ? -1n : 1n);
  let den = pow10(fracPart.length);
  let format: QuantityFormat;
  if (suffix in DECIMAL_SUFFIX) {
    format = 'DecimalSI';
    const e = DECIMAL_SUFFIX[suffix];
    if (e >= 0) num *= pow10(e);
    else den *= pow10(-e);
  } else if (suffix in BINARY_SUFFIX) {
    format = 'BinarySI';
    num *= 2n ** BigInt(BINARY_SUFFIX[suffix]);
  } else {
    const em = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
    if (!em) return null;
    format = 'DecimalExponent';
    const e = Number(em[1]);
    if (e >= 0) num *= pow10(e);
    else den *= pow10(-e);
  }
  return make(num, den, format);
}

/** -1, 0 or 1, like Quantity.Cmp. */
export function compareQuantity(a: Quantity, b: Quantity): number {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

export function isZeroQuantity(q: Quantity): boolean {
  return q.num === 0n;
}

/** Quantity.RoundUp(-3): round away from zero to a multiple of 1m (what SetDefaults_ResourceList does). */
export function roundUpToMilli(q: Quantity): Quantity {
  const scaled = q.num * 1000n;
  if (scaled % q.den === 0n) return q;
  const neg = scaled < 0n;
  const abs = (neg ? -scaled : scaled) / q.den + 1n;
  return make(neg ? -abs : abs, 1000n, q.format);
}

/** Quantity.String(): the canonical form. */
export function formatQuantity(q: Quantity): string {
  if (q.num === 0n) return '0';
  let format = q.format;
  const integral = q.num % q.den === 0n;
  if (format === 'BinarySI') {
    const v = q.num / q.den;
    if (!integral || (v > -1024n && v < 1024n)) format = 'DecimalSI';
  }
  if (format === 'BinarySI') {
    let v = q.num / q.den;
    let exp = 0;
    while (exp < 6 && v % 1024n === 0n) {
      v /= 1024n;
      exp++;
    }
    return `${v}${['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][exp]}`;
  }
  // Decimal: find mantissa * 10^exp with exp a multiple of 3, as large as keeps mantissa integral.
  // Values finer than 1n are rounded up to nano, as upstream does.
  let num = q.num;
  let den = q.den;
  let exp = 0;
  // bring to an integer mantissa at the smallest needed scale (down to -9)
  while (num % den !== 0n && exp > -9) {
    num *= 10n;
    exp -= 1;
  }
  let mant: bigint;
  if (num % den !== 0n) {
    const neg = num < 0n;
    const abs = (neg ? -num : num) / den + 1n;
    mant = neg ? -abs : abs;
  } else {
    mant = num / den;
  }
  while (mant !== 0n && mant % 10n === 0n) {
    mant /= 10n;
    exp += 1;
  }
  const extra = ((exp % 3) + 3) % 3;
  if (extra > 0) {
    exp -= extra;
    mant *= pow10(extra);
  }
  if (format === 'DecimalExponent') return exp === 0 ? `${mant}` : `${mant}e${exp}`;
  const suffix = Object.entries(DECIMAL_SUFFIX).find(([, e]) => e === exp)?.[0];
  return suffix === undefined ? `${mant}e${exp}` : `${mant}${suffix}`;
}

/** Canonical string of a JSON quantity, or the input unchanged if it does not parse. */
export function canonicalQuantity(input: unknown): unknown {
  const q = parseQuantity(input);
  return q ? formatQuantity(roundUpToMilli(q)) : input;
}
