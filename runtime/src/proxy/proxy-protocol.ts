/**
 * An incremental parser of the PROXY protocol header, versions 1 and 2, as
 * HAProxy's doc/proxy-protocol.txt specifies it. It knows nothing of sockets:
 * bytes go in with `push()`, and out comes "need more", the header with the
 * bytes after it, or the reason the input is not a header.
 *
 * Design rules:
 *   - Bounded: a v1 line is at most 107 octets (spec §2.1), a v2 header at
 *     most 16 + 65535 (its length field is 16 bits); nothing beyond the header
 *     is kept, and a v2 body is joined once, when complete (splitting a header
 *     at every byte costs no quadratic copying).
 *   - Fails fast: the first byte that cannot start a header ends parsing, so
 *     a client speaking POP3 (or random bytes) is refused at once.
 *   - Exact: "Any sequence which does not exactly match the protocol must be
 *     discarded and cause the receiver to abort the connection" (§2.1).
 *   - Every address is read by ipaddr.js (through the schema package).
 *
 * Trust is not decided here: the caller reads a header only on a listener
 * marked `proxy` and only from a trusted peer (§5: "accepting the header
 * only from a number of known sources should be safe").
 */
import { formatAddress, normalizePeerAddress } from '@pop3-iac/schema';

/** §2.1: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n" => 107 chars, the worst case. */
export const V1_MAX_LENGTH = 107;
/** §2.2: the v2 signature, 12 bytes. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** §2.2: signature, version/command, family/protocol, 16-bit length. */
const V2_FIXED_LENGTH = 16;
/** The longest v2 header: the fixed part and the largest body its length field can announce. */
export const V2_MAX_LENGTH = V2_FIXED_LENGTH + 0xffff;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;

export interface ProxyEndpoint {
  /** Canonical: dotted quad, or RFC 5952 IPv6; an IPv4-mapped IPv6 address is given as IPv4. */
  address: string;
  port: number;
}

/**
 * What the header says. `proxy`: a relayed connection, whose client is
 * `source`. `local`: the balancer's own connection (a v2 LOCAL health check,
 * a v1 UNKNOWN line, or a v2 family the receiver falls back to UNSPEC for):
 * the real connection endpoints are the ones to use.
 */
export type ProxyHeader =
  | { version: 1 | 2; command: 'proxy'; source: ProxyEndpoint; destination: ProxyEndpoint }
  | { version: 1 | 2; command: 'local' };

/** Stable reasons a header is refused; they reach the log and the refusal counters' detail. */
export type ProxyHeaderProblem =
  | 'not-a-proxy-header'
  | 'v1-line-too-long'
  | 'v1-bad-line-ending'
  | 'v1-malformed'
  | 'v2-bad-version'
  | 'v2-bad-command'
  | 'v2-bad-family'
  | 'v2-short-address'
  | 'v2-bad-tlv';

export type ProxyParseStep =
  | { kind: 'more' }
  | { kind: 'header'; header: ProxyHeader; rest: Buffer }
  | { kind: 'invalid'; problem: ProxyHeaderProblem };

export class ProxyHeaderParser {
  /** Bytes of the header so far (the first 16 of v2, or the v1 line). */
  private head: Buffer = Buffer.alloc(0);
  /** v2 once its length is known: the chunks of the rest, and the header's full length. */
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private total: number | undefined;
  private done: ProxyParseStep | undefined;

  /** Feeds the next bytes received. After a header or an invalid verdict, the same answer is repeated. */
  push(chunk: Buffer): ProxyParseStep {
    if (this.done) return this.done;
    const step = this.total === undefined ? this.pushHead(chunk) : this.pushBody(chunk);
    if (step.kind !== 'more') this.done = step;
    return step;
  }

  private pushHead(chunk: Buffer): ProxyParseStep {
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const buf = this.head;
    if (buf[0] === V2_SIGNATURE[0]) {
      if (!startsWithPrefix(buf, V2_SIGNATURE)) return { kind: 'invalid', problem: 'not-a-proxy-header' };
      if (buf.length < V2_FIXED_LENGTH) return { kind: 'more' };
      this.total = V2_FIXED_LENGTH + buf.readUInt16BE(14);
      this.body = [buf];
      this.bodyBytes = buf.length;
      this.head = Buffer.alloc(0);
      return this.pushBody(undefined);
    }
    if (!startsWithPrefix(buf, V1_PREFIX)) return { kind: 'invalid', problem: 'not-a-proxy-header' };
    return parseV1(buf);
  }

  private pushBody(chunk: Buffer | undefined): ProxyParseStep {
    if (chunk) {
      this.body.push(chunk);
      this.bodyBytes += chunk.length;
    }
    const total = this.total!;
    if (this.bodyBytes < total) return { kind: 'more' };
    const all = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body, this.bodyBytes);
    this.body = [];
    return parseV2(all.subarray(0, total), all.subarray(total));
  }
}

/** True when `buf` agrees with `prefix` as far as either goes. */
function startsWithPrefix(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.compare(prefix, 0, n, 0, n) === 0;
}

// §2.1: "The receiver must not tolerate a single CR or LF character to end the
// line when a complete CRLF sequence is expected."
function parseV1(buf: Buffer): ProxyParseStep {
  const limit = Math.min(buf.length, V1_MAX_LENGTH);
  for (let i = 0; i < limit; i += 1) {
    const byte = buf[i];
    if (byte === LF) return { kind: 'invalid', problem: 'v1-bad-line-ending' };
    if (byte !== CR) continue;
    if (i + 2 > V1_MAX_LENGTH) return invalid('v1-line-too-long');
    if (i + 1 >= buf.length) return { kind: 'more' };
    if (buf[i + 1] !== LF) return invalid('v1-bad-line-ending');
    const header = parseV1Line(buf.toString('latin1', 0, i));
    return header ? { kind: 'header', header, rest: buf.subarray(i + 2) } : invalid('v1-malformed');
  }
  // §2.1: "If the CRLF sequence is not found in the first 107 characters, the receiver should declare the line invalid."
  return buf.length >= V1_MAX_LENGTH ? invalid('v1-line-too-long') : { kind: 'more' };
}

function invalid(problem: ProxyHeaderProblem): ProxyParseStep {
  return { kind: 'invalid', problem };
}

// §2.1: decimal in [0..65535], "Heading zeroes are not permitted".
const V1_PORT = /^(0|[1-9][0-9]{0,4})$/;

function parseV1Line(line: string): ProxyHeader | undefined {
  // §2.1: with "UNKNOWN", "the receiver must ignore anything presented before the CRLF".
  if (line === 'PROXY UNKNOWN' || line.startsWith('PROXY UNKNOWN ')) return { version: 1, command: 'local' };
  const fields = line.split(' ');
  if (fields.length !== 6) return undefined;
  const [, protocol, source, destination, sourcePort, destinationPort] = fields as [string, ...string[]];
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return undefined;
  const src = v1Address(source!, protocol);
  const dst = v1Address(destination!, protocol);
  const sport = v1Port(sourcePort!);
  const dport = v1Port(destinationPort!);
  if (src === undefined || dst === undefined || sport === undefined || dport === undefined) return undefined;
  return {
    version: 1,
    command: 'proxy',
    source: { address: src, port: sport },
    destination: { address: dst, port: dport },
  };
}

// §2.1: "The advertised protocol family dictates what format to use." IPv4 is
// four decimal parts without leading zeroes (ipaddr.js's four-part check is
// exactly that); IPv6 has no zone index.
function v1Address(text: string, protocol: 'TCP4' | 'TCP6'): string | undefined {
  if (text.includes('%')) return undefined;
  if ((protocol === 'TCP6') !== text.includes(':')) return undefined;
  const parsed = normalizePeerAddress(text);
  return parsed === undefined ? undefined : formatAddress(parsed);
}

function v1Port(text: string): number | undefined {
  if (!V1_PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** §2.2: the family/protocol bytes a receiver may meet; anything else "must be rejected as invalid". */
const V2_ADDRESS_LENGTH: ReadonlyMap<number, number> = new Map([
  [0x00, 0], // UNSPEC
  [0x11, 12], // TCP over IPv4
  [0x12, 12], // UDP over IPv4
  [0x21, 36], // TCP over IPv6
  [0x22, 36], // UDP over IPv6
  [0x31, 216], // UNIX stream
  [0x32, 216], // UNIX datagram
]);

function parseV2(header: Buffer, rest: Buffer): ProxyParseStep {
  const versionCommand = header[12]!;
  // §2.2: the version "must always be sent as \x2 and the receiver must only accept this value".
  if (versionCommand >> 4 !== 2) return invalid('v2-bad-version');
  const command = versionCommand & 0x0f;
  // §2.2: LOCAL: "discard the protocol block including the family which is ignored".
  if (command === 0x0) return { kind: 'header', header: { version: 2, command: 'local' }, rest };
  // §2.2: "Receivers must drop connections presenting unexpected values here."
  if (command !== 0x1) return invalid('v2-bad-command');
  const family = header[13]!;
  const addressLength = V2_ADDRESS_LENGTH.get(family);
  if (addressLength === undefined) return invalid('v2-bad-family');
  const block = header.subarray(V2_FIXED_LENGTH);
  // §2.2: "The receiver must also reject incoming connections containing partial protocol headers."
  if (block.length < addressLength) return invalid('v2-short-address');
  // §2.2: a receiver "automatically falls back to the UNSPEC mode for the valid
  // combinations above that it does not support": POP3 runs over TCP, so UDP,
  // UNIX and UNSPEC are served with the real endpoints, like LOCAL.
  if (family !== 0x11 && family !== 0x21) return { kind: 'header', header: { version: 2, command: 'local' }, rest };
  if (!tlvsFit(block.subarray(addressLength))) return invalid('v2-bad-tlv');
  const v4 = family === 0x11;
  const size = v4 ? 4 : 16;
  const ports = block.subarray(2 * size);
  return {
    kind: 'header',
    header: {
      version: 2,
      command: 'proxy',
      source: { address: v2Address(block.subarray(0, size)), port: ports.readUInt16BE(0) },
      destination: { address: v2Address(block.subarray(size, 2 * size)), port: ports.readUInt16BE(2) },
    },
    rest,
  };
}

/**
 * §2.2: TLVs are "Type" (1 byte), "Length" (2 bytes) and that many bytes of
 * value. None is needed here, so all are skipped; but a TLV that overruns
 * the header's announced length means the header is not what it says.
 * (CRC32C, §2.2.3, is verified only "if the checksum functionality is
 * supported by the receiver": it is not, so it is skipped like the rest.)
 */
function tlvsFit(tlvs: Buffer): boolean {
  let at = 0;
  while (at < tlvs.length) {
    if (tlvs.length - at < 3) return false;
    at += 3 + tlvs.readUInt16BE(at + 1);
  }
  return at === tlvs.length;
}

// Network byte order, 4 or 16 bytes, written as text so that ipaddr.js reads it.
function v2Address(bytes: Buffer): string {
  const text =
    bytes.length === 4
      ? [...bytes].join('.')
      : Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  return formatAddress(normalizePeerAddress(text)!);
}
