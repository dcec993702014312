/**
 * Property-based fuzzing of the PROXY protocol parser (runtime/src/proxy/
 * proxy-protocol.ts), in process. Headers are built here by an encoder that
 * follows HAProxy's proxy-protocol.txt on its own, so the parser is checked
 * against the spec's layout and not against itself.
 *
 * The properties:
 *   - a valid header (v1 TCP4/TCP6/UNKNOWN; v2 PROXY/LOCAL over AF_INET,
 *     AF_INET6, AF_UNSPEC, AF_UNIX, with TLVs) followed by payload, fed in any
 *     chunking (every split point, and random ones), gives that header and
 *     exactly that payload back;
 *   - every strict prefix of a valid header is "need more", never a header;
 *   - a TLV that overruns the announced length is refused;
 *   - random bytes, and valid headers with one byte changed, never throw,
 *     and the parser never asks for more than a header's bound (107 octets
 *     for v1, 16 + 65535 for v2).
 *
 * Shared by runtime/test/fuzz-proxy-protocol.test.ts and runtime/fuzz/run.ts.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  ProxyHeaderParser,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
  V2_SIGNATURE,
  type ProxyHeader,
  type ProxyParseStep,
} from '../src/proxy/proxy-protocol';

export interface ProxyFuzzStats {
  cases: number;
  headers: number;
  invalid: number;
}

/** A header as bytes, with what the parser must make of it. */
export interface EncodedHeader {
  bytes: Buffer;
  expected: ProxyHeader;
}

/** RFC 5952 text of 16 bytes, or the IPv4 address of an IPv4-mapped one (as pop3d shows addresses). */
export function expectedV6(bytes: Buffer): string {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return [...bytes.subarray(12)].join('.');
  const full = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  // WHATWG URL serialisation of an IPv6 host is the RFC 5952 compressed form.
  return new URL(`http://[${full}]/`).hostname.slice(1, -1);
}

export function encodeV1(protocol: 'TCP4' | 'TCP6', src: string, dst: string, sport: number, dport: number): Buffer {
  return Buffer.from(`PROXY ${protocol} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

/** §2.2: signature, version 2 and command, family and protocol, length, then the block. */
export function encodeV2(command: number, family: number, block: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, block]);
}

export function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

function ports(sport: number, dport: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  return b;
}

const portArb = fc.integer({ min: 0, max: 65535 });
const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
const tlvsArb = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    ),
    { maxLength: 4 },
  )
  .map((list) => Buffer.concat(list.map(([type, value]) => tlv(type, value))));

const v1Arb: fc.Arbitrary<EncodedHeader> = fc.oneof(
  fc.tuple(fc.ipV4(), fc.ipV4(), portArb, portArb).map(([src, dst, sport, dport]) => ({
    bytes: encodeV1('TCP4', src, dst, sport, dport),
    expected: {
      version: 1 as const,
      command: 'proxy' as const,
      source: { address: src, port: sport },
      destination: { address: dst, port: dport },
    },
  })),
  fc.tuple(bytesArb(16), bytesArb(16), portArb, portArb).map(([src, dst, sport, dport]) => ({
    // Written in full, four hex digits a group, as §2.1 describes TCP6 addresses.
    bytes: encodeV1('TCP6', fullV6(src), fullV6(dst), sport, dport),
    expected: {
      version: 1 as const,
      command: 'proxy' as const,
      source: { address: expectedV6(src), port: sport },
      destination: { address: expectedV6(dst), port: dport },
    },
  })),
  fc.constantFrom('', ' TCP4 1.2.3.4 5.6.7.8 1 2', ' ffff:f::f:ffff ffff:f::f:ffff 65535 65535').map((tail) => ({
    bytes: Buffer.from(`PROXY UNKNOWN${tail}\r\n`, 'latin1'),
    expected: { version: 1 as const, command: 'local' as const },
  })),
);

function fullV6(bytes: Buffer): string {
  return Array.from({ length: 8 }, (_, i) =>
    bytes
      .readUInt16BE(i * 2)
      .toString(16)
      .padStart(4, '0'),
  ).join(':');
}

const v2Arb: fc.Arbitrary<EncodedHeader> = fc.oneof(
  fc.tuple(bytesArb(4), bytesArb(4), portArb, portArb, tlvsArb).map(([src, dst, sport, dport, tlvs]) => ({
    bytes: encodeV2(0x1, 0x11, Buffer.concat([src, dst, ports(sport, dport), tlvs])),
    expected: {
      version: 2 as const,
      command: 'proxy' as const,
      source: { address: [...src].join('.'), port: sport },
      destination: { address: [...dst].join('.'), port: dport },
    },
  })),
  fc.tuple(bytesArb(16), bytesArb(16), portArb, portArb, tlvsArb).map(([src, dst, sport, dport, tlvs]) => ({
    bytes: encodeV2(0x1, 0x21, Buffer.concat([src, dst, ports(sport, dport), tlvs])),
    expected: {
      version: 2 as const,
      command: 'proxy' as const,
      source: { address: expectedV6(src), port: sport },
      destination: { address: expectedV6(dst), port: dport },
    },
  })),
  // LOCAL: whatever the family byte and block say, the real endpoints are used (§2.2).
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 })).map(([family, block]) => ({
    bytes: encodeV2(0x0, family, Buffer.from(block)),
    expected: { version: 2 as const, command: 'local' as const },
  })),
  // PROXY over families a TCP server falls back to UNSPEC mode for (§2.2).
  fc.tuple(fc.constantFrom(0x00, 0x12, 0x22, 0x31, 0x32), tlvsArb).map(([family, tlvs]) => ({
    bytes: encodeV2(
      0x1,
      family,
      Buffer.concat([Buffer.alloc({ 0x00: 0, 0x12: 12, 0x22: 36, 0x31: 216, 0x32: 216 }[family]!), tlvs]),
    ),
    expected: { version: 2 as const, command: 'local' as const },
  })),
);

export const validHeaderArb: fc.Arbitrary<EncodedHeader> = fc.oneof(v1Arb, v2Arb);
const payloadArb = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

/** Feeds `bytes` cut at `cuts` (sorted positions) and returns the first step that is not "more". */
export function feed(bytes: Buffer, cuts: readonly number[]): ProxyParseStep & { asked: number } {
  const parser = new ProxyHeaderParser();
  let from = 0;
  for (const cut of [...cuts.filter((c) => c < bytes.length), bytes.length]) {
    if (cut < from) continue;
    const step = parser.push(bytes.subarray(from, cut));
    from = cut;
    if (step.kind !== 'more') return { ...step, asked: from };
  }
  return { kind: 'more', asked: from };
}

/** A valid header then payload, in one chunking: the header comes out, the payload after it untouched. */
function checkRoundTrip(encoded: EncodedHeader, payload: Buffer, cuts: readonly number[]): void {
  const input = Buffer.concat([encoded.bytes, payload]);
  const step = feed(input, cuts);
  assert.equal(step.kind, 'header', `expected a header, got ${JSON.stringify(step)}`);
  if (step.kind !== 'header') return;
  assert.deepEqual(step.header, encoded.expected);
  // What came in the chunk that completed the header, after it; the rest is still unread.
  const restStart = encoded.bytes.length;
  assert.deepEqual(step.rest, input.subarray(restStart, step.asked));
}

export function fuzzProxyParser(options: { numRuns: number; seed?: number; stats: ProxyFuzzStats }): void {
  const { numRuns, seed, stats } = options;
  const runs = Math.max(1, Math.floor(numRuns / 4));
  // 1. Valid headers in random chunkings, and every prefix is "more".
  fc.assert(
    fc.property(
      validHeaderArb,
      payloadArb,
      fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
      (encoded, payload, rawCuts) => {
        stats.cases += 1;
        stats.headers += 1;
        const cuts = [...new Set(rawCuts)].sort((a, b) => a - b);
        checkRoundTrip(encoded, payload, cuts);
        for (const end of [1, encoded.bytes.length >> 1, encoded.bytes.length - 1]) {
          if (end < 1 || end >= encoded.bytes.length) continue;
          assert.equal(feed(encoded.bytes.subarray(0, end), []).kind, 'more', `prefix of ${end} bytes`);
        }
      },
    ),
    { numRuns: runs, seed },
  );
  // 2. TLVs that overrun the announced length: refused, in any chunking.
  fc.assert(
    fc.property(
      fc.constantFrom(0x11, 0x21),
      tlvsArb,
      fc.integer({ min: 1, max: 0xffff }),
      fc.nat({ max: 2 }),
      (family, tlvs, declared, cutHeader) => {
        stats.cases += 1;
        const address = Buffer.alloc(family === 0x11 ? 12 : 36);
        // A last TLV cut inside its type and length (1 or 2 bytes), or one announcing value bytes that are not there.
        const overrun = cutHeader < 2 ? Buffer.alloc(cutHeader + 1, 0x04) : tlv(0x04, Buffer.alloc(0));
        if (cutHeader === 2) overrun.writeUInt16BE(declared, 1);
        const bytes = encodeV2(0x1, family, Buffer.concat([address, tlvs, overrun]));
        const step = feed(bytes, [17, 30]);
        assert.deepEqual([step.kind, step.kind === 'invalid' && step.problem], ['invalid', 'v2-bad-tlv']);
        stats.invalid += 1;
      },
    ),
    { numRuns: runs, seed },
  );
  // 3. Random bytes, possibly behind a real signature: never a throw, never past the bounds.
  fc.assert(
    fc.property(
      fc.constantFrom(
        Buffer.alloc(0),
        Buffer.from('PROXY '),
        V2_SIGNATURE,
        Buffer.concat([V2_SIGNATURE, Buffer.from([0x21])]),
      ),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat({ max: 320 }), { maxLength: 6 }),
      (prefix, random, rawCuts) => {
        stats.cases += 1;
        const bytes = Buffer.concat([prefix, Buffer.from(random)]);
        const step = feed(
          bytes,
          [...new Set(rawCuts)].sort((a, b) => a - b),
        );
        checkBounded(bytes, step);
        if (step.kind === 'invalid') stats.invalid += 1;
      },
    ),
    { numRuns: runs, seed },
  );
  // 4. A valid header with one byte changed: never a throw; a header only if it still reads as one.
  fc.assert(
    fc.property(validHeaderArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (encoded, at, xor) => {
      stats.cases += 1;
      const bytes = Buffer.from(encoded.bytes);
      const index = at % bytes.length;
      bytes[index] = bytes[index]! ^ xor;
      const step = feed(bytes, []);
      checkBounded(bytes, step);
      if (step.kind === 'invalid') stats.invalid += 1;
      // A changed signature ("PROXY", or v2's 12 bytes) or v2 version nibble is never taken for a header.
      const signature = encoded.expected.version === 1 ? index < 5 : index < 12 || (index === 12 && xor >= 0x10);
      if (signature) assert.notEqual(step.kind, 'header', `byte ${index} changed`);
    }),
    { numRuns: numRuns - 3 * runs, seed },
  );
}

/** The parser never waits for more than a header can be long. */
function checkBounded(bytes: Buffer, step: ProxyParseStep & { asked: number }): void {
  assert.ok(['more', 'header', 'invalid'].includes(step.kind));
  if (step.kind !== 'more') return;
  const bound = bytes[0] === 0x50 ? V1_MAX_LENGTH : V2_MAX_LENGTH;
  assert.ok(step.asked < bound, `still asking for more after ${step.asked} bytes`);
}
