/**
 * Connection control: permit and deny patterns, as the seed describes them
 * ("Wildcard character (*) or CIDR syntax ... E.g. 192.168.0.* or 202.* ...
 * 192.168.0.1/16 represents a group IP addresses from 192.168.0.1~192.168.255.255"),
 * plus single addresses and IPv6. Patterns are parsed once into ranges; a
 * peer is admitted when permit is empty or it matches a permit range, and it
 * matches no deny range: deny wins.
 */
import ipaddr from 'ipaddr.js';
import { formatAddress, normalizePeerAddress, parseAddress, type ParsedAddress } from './address';

/** A pattern compiled to a network range. `text` is the canonical pattern it came from. */
export interface AccessRange {
  text: string;
  /** undefined for `*`, which matches every address of both families. */
  network?: ParsedAddress;
  prefixLength: number;
}

const WILDCARD_V4 = /^(\d{1,3})((?:\.\d{1,3}){0,2})((?:\.\*)+)$/;

/**
 * Parses one pattern into its canonical text and range, or returns the reason
 * it is not one. Canonical text: `*`; a wildcard as `192.168.0.*` (trailing
 * `.*` parts folded into one); CIDR with host bits cleared (`192.168.0.1/16`
 * is `192.168.0.0/16`, as the seed's range says); a single address normalised.
 */
export function parseAccessPattern(pattern: string): AccessRange | { message: string } {
  const text = pattern.trim();
  if (text === '*') return { text: '*', prefixLength: 0 };

  const wildcard = WILDCARD_V4.exec(text);
  if (wildcard) {
    const octets = (wildcard[1]! + wildcard[2]!).split('.');
    const stars = wildcard[3]!.split('.').length - 1;
    if (octets.length + stars > 4) return { message: `"${text}" has more than four parts` };
    if (octets.some((octet) => Number(octet) > 255)) return { message: `"${text}" has a part above 255` };
    const prefix = octets.map(Number).join('.');
    const network = ipaddr.IPv4.parse([...octets, '0', '0', '0'].slice(0, 4).join('.'));
    return { text: `${prefix}.*`, network, prefixLength: octets.length * 8 };
  }

  if (text.includes('/')) {
    const [addressText = '', lengthText = ''] = text.split('/');
    const address = parseAddress(addressText);
    if (address === undefined) return { message: `"${addressText}" in "${text}" is not an IP address` };
    const max = address.kind() === 'ipv4' ? 32 : 128;
    // An IPv4-mapped CIDR such as ::ffff:10.0.0.0/104 was folded to IPv4 by parseAddress.
    const mappedShift = address.kind() === 'ipv4' && addressText.includes(':') ? 96 : 0;
    const length = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) - mappedShift : NaN;
    if (!(length >= 0 && length <= max)) {
      return { message: `prefix length "/${lengthText}" in "${text}" is not between /0 and /${max + mappedShift}` };
    }
    const network = networkOf(address, length);
    // A full-length prefix is one host: spell it as the address, so both forms compare equal.
    const canonical = length === max ? formatAddress(network) : `${formatAddress(network)}/${length}`;
    return { text: canonical, network, prefixLength: length };
  }

  if (text.includes('*')) {
    return {
      message: `"${text}" is not a pattern: a wildcard may only replace whole trailing IPv4 parts (192.168.0.*, 202.*); use CIDR for IPv6`,
    };
  }
  const address = parseAddress(text);
  if (address === undefined) {
    return { message: `"${text}" is not an IP address, a wildcard (192.168.0.*) or CIDR (192.168.0.0/16)` };
  }
  return { text: formatAddress(address), network: address, prefixLength: address.kind() === 'ipv4' ? 32 : 128 };
}

function networkOf(address: ParsedAddress, prefixLength: number): ParsedAddress {
  const bytes = address.toByteArray();
  const cleared = bytes.map((byte, i) => {
    const bitsInByte = Math.max(0, Math.min(8, prefixLength - i * 8));
    return byte & ((0xff << (8 - bitsInByte)) & 0xff);
  });
  return ipaddr.fromByteArray(cleared);
}

/** Which rule decided about a peer, for the refusal counters. */
export interface AccessDecision {
  admitted: boolean;
  /** The deny pattern that matched, or `permit` when permit is set and nothing in it matched. */
  rule?: string;
}

export interface AccessMatcher {
  check(peer: string): AccessDecision;
  /** The same decision for an address already normalised (normalizePeerAddress), so a caller parses once. */
  checkAddress(address: ParsedAddress | undefined): AccessDecision;
}

/**
 * Compiles canonical permit and deny lists once (at apply time), so a check
 * at accept time is a few integer comparisons.
 */
export function compileAccessRules(permit: readonly string[], deny: readonly string[]): AccessMatcher {
  const permitRanges = compileList(permit);
  const denyRanges = compileList(deny);
  return {
    check(peer: string): AccessDecision {
      if (permitRanges.length === 0 && denyRanges.length === 0) return { admitted: true };
      return checkAddress(normalizePeerAddress(peer));
    },
    checkAddress,
  };

  function checkAddress(address: ParsedAddress | undefined): AccessDecision {
    if (permitRanges.length === 0 && denyRanges.length === 0) return { admitted: true };
    // An address we cannot read cannot be shown to pass the rules: refuse it.
    if (address === undefined) return { admitted: false, rule: 'unparseable-peer' };
    const denied = denyRanges.find((range) => inRange(address, range));
    if (denied) return { admitted: false, rule: denied.text };
    if (permitRanges.length > 0 && !permitRanges.some((range) => inRange(address, range))) {
      return { admitted: false, rule: 'permit' };
    }
    return { admitted: true };
  }
}

function compileList(patterns: readonly string[]): AccessRange[] {
  return patterns.map((pattern) => {
    const range = parseAccessPattern(pattern);
    if ('message' in range) throw new Error(`access pattern ${range.message}`);
    return range;
  });
}

function inRange(address: ParsedAddress, range: AccessRange): boolean {
  if (range.network === undefined) return true;
  if (address.kind() !== range.network.kind()) return false;
  return address.match(range.network, range.prefixLength);
}
