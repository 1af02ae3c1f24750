// The class of an IP address, as the kernel's egress decides whether a request may reach it
// (docs/effects.md, "Addresses"): only `public` addresses are reachable through a name a grant
// does not spell out literally. Pure logic on the text of an address.
//
// Classes: loopback (127/8, ::1), private (RFC 1918, CGNAT 100.64/10, fc00::/7, the deprecated
// site-local fec0::/10, NAT64 local-use 64:ff9b:1::/48), link-local (169.254/16, fe80::/10),
// multicast (224/4, ff00::/8), unspecified (0.0.0.0/8 "this network", ::), reserved (240/4 and
// broadcast, IETF protocol and documentation ranges, benchmarking 198.18/15, and every IPv6 address
// outside global unicast 2000::/3, plus 2001::/23 and 2001:db8::/32). IPv6 forms that carry an
// IPv4 address (mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96, 6to4
// 2002::/16) are classed by that IPv4 address, so `::ffff:127.0.0.1` is loopback.

import { isIP } from 'node:net';

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'reserved';

/** [first address as a 32-bit number, prefix length, class], most specific first where they nest. */
const V4_RANGES: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4Number(ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

const V4_TABLE = V4_RANGES.map(([start, bits, cls]) => ({ start: v4Number(start), mask: bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0, cls }));

function classOfV4(n: number): AddressClass {
  for (const r of V4_TABLE) if ((n & r.mask) >>> 0 === r.start) return r.cls;
  return 'public';
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded dotted quad becomes two groups). */
function v6Groups(ip: string): number[] {
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // An embedded dotted quad is two groups: rewrite it as such, then parse one way.
    const n = v4Number(last);
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const parts = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const gap = text.indexOf('::');
  if (gap < 0) return parts(text);
  const head = parts(text.slice(0, gap));
  const rest = parts(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function classOfV6(g: number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const v4 = ((g6 << 16) | g7) >>> 0;
  const zeroTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  if (zeroTo(5) && g5 === 0xffff) return classOfV4(v4); // ::ffff:a.b.c.d, IPv4-mapped
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return classOfV4(v4); // ::ffff:0:a.b.c.d, IPv4-translated
  if (zeroTo(6)) return 'reserved'; // ::a.b.c.d, the deprecated IPv4-compatible form
  // NAT64 well-known prefix: where it goes is the IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classOfV4(v4);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private';
  if (g0 === 0x2002) return classOfV4(((g1 << 16) | g2) >>> 0); // 6to4 carries its relay's IPv4
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private';
  if ((g0 & 0xfe00) === 0xfc00) return 'private';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved';
  if (g0 === 0x2001 && g1 < 0x0200) return 'reserved';
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}

/** The class of an IPv4 or IPv6 address (IPv6 with or without brackets or a zone); null when the
 *  text is not an IP address. */
export function addressClass(address: string): AddressClass | null {
  let ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const family = isIP(ip);
  if (family === 4) return classOfV4(v4Number(ip));
  if (family === 6) return classOfV6(v6Groups(ip.toLowerCase()));
  return null;
}

/** Whether a request may reach the address through a name no grant spells out (only public ones). */
export function isPublicAddress(address: string): boolean {
  return addressClass(address) === 'public';
}
