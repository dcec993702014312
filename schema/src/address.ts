/**
 * IP address handling shared by binds and access rules. Every parse goes
 * through ipaddr.js; nothing here splits on dots or colons by hand.
 */
import ipaddr from 'ipaddr.js';

export type ParsedAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Parses an IPv4 address in strict dotted-quad form or an IPv6 address.
 * ipaddr.js alone would also take `127.1` or `0x7f.0.0.1`, which an operator
 * never means in a mail server config, so IPv4 must be four decimal parts.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) becomes the IPv4 address:
 * it is the same host, and treating it otherwise would let `::ffff:` spellings
 * slip past rules written for IPv4.
 */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!ipaddr.IPv6.isValid(text) || text.includes('%')) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** The one spelling an address is stored and shown in: dotted quad, or RFC 5952 for IPv6. */
export function formatAddress(address: ParsedAddress): string {
  return address.kind() === 'ipv4' ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
}

/**
 * Turns the address a socket reports for its peer into the form rules are
 * matched against: zone id dropped (`fe80::1%eth0` is `fe80::1`), IPv4-mapped
 * IPv6 (what a dual-stack listener reports for IPv4 clients) made IPv4.
 * Returns undefined for text that is not an address at all.
 */
export function normalizePeerAddress(peer: string): ParsedAddress | undefined {
  const zoneAt = peer.indexOf('%');
  const bare = zoneAt === -1 ? peer : peer.slice(0, zoneAt);
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (!ipaddr.IPv6.isValid(bare)) return undefined;
  const v6 = ipaddr.IPv6.parse(bare);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/**
 * The one key a client is counted under (the per-IP connection cap, the
 * failed-login delay): its normalised address in the one spelling, so
 * `::ffff:192.0.2.1`, `::ffff:c000:201` and `192.0.2.1` are one client. Text
 * that is not an address is its own key. `address` is `peer` already
 * normalised, when the caller has it.
 */
export function peerKey(peer: string, address: ParsedAddress | undefined = normalizePeerAddress(peer)): string {
  return address === undefined ? peer : formatAddress(address);
}

/** True for 127.0.0.0/8 and ::1, in any spelling a socket reports. */
export function isLoopback(peer: string): boolean {
  const address = normalizePeerAddress(peer);
  return address !== undefined && address.range() === 'loopback';
}

/** A sort key that orders IPv4 numerically before IPv6, numerically. */
export function addressSortKey(address: ParsedAddress): string {
  const hex = address.toByteArray().map((byte) => byte.toString(16).padStart(2, '0'));
  return (address.kind() === 'ipv4' ? '4' : '6') + hex.join('');
}
