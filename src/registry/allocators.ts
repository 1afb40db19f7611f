/**
 * The Service allocators kube-apiserver keeps: cluster IPs from `--service-cluster-ip-range`
 * (k3s's 10.43.0.0/16 by default) and node ports from `--service-node-port-range`
 * (30000-32767). A given value is taken if free and in range; otherwise a free one is picked at
 * random (the range's network and broadcast addresses are never handed out). State is rebuilt
 * from the stored Services when the registry first needs it and kept in memory after that: one
 * podbay server owns its store (src/sys/owner-lock.ts).
 */
import { randomInt } from 'node:crypto';

export class RangeFullError extends Error {
  constructor() {
    super('range is full');
  }
}
export class NotInRangeError extends Error {
  constructor() {
    super('provided value is not in the valid range');
  }
}
export class AllocatedError extends Error {
  constructor() {
    super('provided value is already allocated');
  }
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIPv4(s: string): boolean {
  return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((p) => Number(p) <= 255 && String(Number(p)) === p);
}

/** a set of integers [first, last] with allocate-given, allocate-any and release */
class IntRange {
  private readonly used = new Set<number>();
  constructor(
    readonly first: number,
    readonly last: number,
  ) {}

  size(): number {
    return this.last - this.first + 1;
  }

  contains(n: number): boolean {
    return n >= this.first && n <= this.last;
  }

  has(n: number): boolean {
    return this.used.has(n);
  }

  take(n: number): void {
    if (!this.contains(n)) throw new NotInRangeError();
    if (this.used.has(n)) throw new AllocatedError();
    this.used.add(n);
  }

  /** a random free value (kube's random scan), or RangeFullError */
  any(): number {
    const size = this.size();
    if (this.used.size >= size) throw new RangeFullError();
    const start = randomInt(size);
    for (let i = 0; i < size; i++) {
      const n = this.first + ((start + i) % size);
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
    throw new RangeFullError();
  }

  release(n: number): void {
    this.used.delete(n);
  }
}

export class IpRange {
  readonly cidr: string;
  private readonly range: IntRange;

  constructor(cidr: string) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
    if (!m || !isIPv4(m[1]) || Number(m[2]) > 30 || Number(m[2]) < 8) throw new Error(`${cidr}: want an IPv4 CIDR between /8 and /30`);
    const bits = Number(m[2]);
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    const base = (ipToInt(m[1]) & mask) >>> 0;
    this.cidr = `${intToIp(base)}/${bits}`;
    // network and broadcast addresses are never handed out
    this.range = new IntRange(base + 1, base + 2 ** (32 - bits) - 2);
  }

  /** the first usable address: the `kubernetes` Service's (10.43.0.1) */
  first(): string {
    return intToIp(this.range.first);
  }

  /** the n-th usable address (n from 0): cluster DNS gets the tenth, as k3s's 10.43.0.10 */
  nth(n: number): string {
    return intToIp(this.range.first + n);
  }

  contains(ip: string): boolean {
    return isIPv4(ip) && this.range.contains(ipToInt(ip));
  }

  take(ip: string): void {
    this.range.take(ipToInt(ip));
  }

  any(): string {
    return intToIp(this.range.any());
  }

  release(ip: string): void {
    if (isIPv4(ip)) this.range.release(ipToInt(ip));
  }

  has(ip: string): boolean {
    return isIPv4(ip) && this.range.has(ipToInt(ip));
  }
}

export class PortRange {
  private readonly range: IntRange;
  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    this.range = new IntRange(first, last);
  }

  static parse(spec: string): PortRange {
    const m = /^(\d+)-(\d+)$/.exec(spec.trim());
    if (!m) throw new Error(`${spec}: want FIRST-LAST, e.g. 30000-32767`);
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (a < 1 || b > 65535 || a > b) throw new Error(`${spec}: ports go from 1 to 65535, the first not above the last`);
    return new PortRange(a, b);
  }

  text(): string {
    return `${this.first}-${this.last}`;
  }

  contains(p: number): boolean {
    return this.range.contains(p);
  }

  take(p: number): void {
    this.range.take(p);
  }

  any(): number {
    return this.range.any();
  }

  release(p: number): void {
    this.range.release(p);
  }

  has(p: number): boolean {
    return this.range.has(p);
  }
}
