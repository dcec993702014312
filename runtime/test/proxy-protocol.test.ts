// The PROXY protocol parser against HAProxy's proxy-protocol.txt, case by
// case: the exact examples and limits the spec gives, and each way a header
// is refused. The fuzz properties are in fuzz-proxy-protocol.test.ts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ProxyHeaderParser, V2_MAX_LENGTH, type ProxyParseStep } from '../src/proxy/proxy-protocol';
import { encodeV1, encodeV2, feed, tlv } from '../fuzz/proxy-fuzz';

function parse(bytes: Buffer | string): ProxyParseStep {
  return new ProxyHeaderParser().push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
}

function problem(bytes: Buffer | string): string | undefined {
  const step = parse(bytes);
  return step.kind === 'invalid' ? step.problem : step.kind;
}

const v4Block = (src: number[], dst: number[], sport: number, dport: number) => {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports]);
};

describe('PROXY protocol v1', () => {
  it("the spec's example: TCP4 client and the bytes after the line", () => {
    const step = parse('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n');
    assert.deepEqual(step, {
      kind: 'header',
      header: {
        version: 1,
        command: 'proxy',
        source: { address: '192.168.0.1', port: 56324 },
        destination: { address: '192.168.0.11', port: 443 },
      },
      rest: Buffer.from('GET / HTTP/1.1\r\n'),
    });
  });

  it('TCP6, in any spelling, comes out in RFC 5952 form; an IPv4-mapped one as IPv4', () => {
    const step = parse(encodeV1('TCP6', '2001:0DB8:0000:0000:0000:0000:0000:0001', '::ffff:10.0.0.1', 1, 65535));
    assert.equal(step.kind, 'header');
    if (step.kind !== 'header' || step.header.command !== 'proxy') return;
    assert.deepEqual(step.header.source, { address: '2001:db8::1', port: 1 });
    assert.deepEqual(step.header.destination, { address: '10.0.0.1', port: 65535 });
  });

  it("UNKNOWN is the balancer's own connection, whatever follows it on the line", () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::f:ffff ffff:f::f:ffff 65535 65535\r\n'])
      assert.deepEqual(parse(line), {
        kind: 'header',
        header: { version: 1, command: 'local' },
        rest: Buffer.alloc(0),
      });
  });

  it('the longest line the spec allows (107 octets) is read; one octet more is refused', () => {
    const longest = `PROXY UNKNOWN ${'f'.repeat(39)} ${'f'.repeat(39)} 65535 65535\r\n`;
    assert.equal(longest.length, 107);
    assert.equal(parse(longest).kind, 'header');
    assert.equal(problem(`PROXY UNKNOWN ${'f'.repeat(40)} ${'f'.repeat(39)} 65535 65535\r\n`), 'v1-line-too-long');
    // No CRLF within 107 octets: refused without waiting for more.
    assert.equal(problem(`PROXY TCP4 ${'1'.repeat(120)}`), 'v1-line-too-long');
    assert.equal(problem(`PROXY TCP4 ${'1'.repeat(90)}`), 'more');
  });

  it('refuses what does not exactly match: lone CR or LF, leading zeros, wrong family, extra spaces, bad ports', () => {
    const cases: Array<[string, string]> = [
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'v1-bad-line-ending'],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', 'v1-bad-line-ending'],
      ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', 'v1-malformed'],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', 'v1-malformed'],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', 'v1-malformed'],
      ['PROXY TCP4 ::1 ::1 1 2\r\n', 'v1-malformed'],
      ['PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', 'v1-malformed'],
      ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'v1-malformed'],
      ['PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', 'v1-malformed'],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', 'v1-malformed'],
      ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1-malformed'],
      ['PROXY UNKNOWNX\r\n', 'v1-malformed'],
      ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', 'v1-malformed'],
      ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'not-a-proxy-header'],
      ['USER alice\r\n', 'not-a-proxy-header'],
      ['PROXX', 'not-a-proxy-header'],
    ];
    for (const [line, expected] of cases) assert.equal(problem(line), expected, JSON.stringify(line));
  });
});

describe('PROXY protocol v2', () => {
  it('PROXY over TCP/IPv4, TLVs skipped, the bytes after the header kept', () => {
    const header = encodeV2(
      0x1,
      0x11,
      Buffer.concat([
        v4Block([203, 0, 113, 7], [10, 0, 0, 21], 40000, 995),
        tlv(0x01, Buffer.from('pop3')),
        tlv(0x04, Buffer.alloc(0)),
      ]),
    );
    const step = parse(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]));
    assert.deepEqual(step, {
      kind: 'header',
      header: {
        version: 2,
        command: 'proxy',
        source: { address: '203.0.113.7', port: 40000 },
        destination: { address: '10.0.0.21', port: 995 },
      },
      rest: Buffer.from([0x16, 0x03, 0x01]),
    });
  });

  it("LOCAL (a health check) is the balancer's own connection, whatever its family and length", () => {
    for (const block of [Buffer.alloc(0), v4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.alloc(500, 0xff)])
      for (const family of [0x00, 0x11, 0xff])
        assert.deepEqual(parse(encodeV2(0x0, family, block)), {
          kind: 'header',
          header: { version: 2, command: 'local' },
          rest: Buffer.alloc(0),
        });
  });

  it('AF_UNSPEC, UDP and AF_UNIX fall back to the real endpoints, as the spec allows', () => {
    for (const [family, size] of [
      [0x00, 0],
      [0x12, 12],
      [0x22, 36],
      [0x31, 216],
      [0x32, 216],
    ] as const)
      assert.deepEqual((parse(encodeV2(0x1, family, Buffer.alloc(size))) as { header?: unknown }).header, {
        version: 2,
        command: 'local',
      });
  });

  it('refuses a bad version, command or family, a short address block, and a TLV past the end', () => {
    const block = v4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    const wrongVersion = encodeV2(0x1, 0x11, block);
    wrongVersion[12] = 0x11;
    assert.equal(problem(wrongVersion), 'v2-bad-version');
    assert.equal(problem(encodeV2(0x2, 0x11, block)), 'v2-bad-command');
    for (const family of [0x13, 0x41, 0x10, 0x01]) assert.equal(problem(encodeV2(0x1, family, block)), 'v2-bad-family');
    assert.equal(problem(encodeV2(0x1, 0x11, block.subarray(0, 11))), 'v2-short-address');
    assert.equal(problem(encodeV2(0x1, 0x21, Buffer.alloc(35))), 'v2-short-address');
    assert.equal(problem(encodeV2(0x1, 0x11, Buffer.concat([block, Buffer.from([0x04, 0x00])]))), 'v2-bad-tlv');
    assert.equal(
      problem(encodeV2(0x1, 0x11, Buffer.concat([block, Buffer.from([0x04, 0x00, 0x05, 1, 2])]))),
      'v2-bad-tlv',
    );
    // A changed signature byte is not a header at all.
    const badSignature = encodeV2(0x1, 0x11, block);
    badSignature[6] = 0x00;
    assert.equal(problem(badSignature), 'not-a-proxy-header');
  });

  it('the longest header (16 + 65535 octets) fed one octet at a time is read, without quadratic copying', () => {
    const block = Buffer.concat([
      v4Block([192, 0, 2, 1], [192, 0, 2, 2], 7, 8),
      tlv(0xe0, Buffer.alloc(65535 - 12 - 3)),
    ]);
    const bytes = encodeV2(0x1, 0x11, block);
    assert.equal(bytes.length, V2_MAX_LENGTH);
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    const step = feed(bytes, cuts);
    assert.equal(step.kind, 'header');
    assert.equal(step.asked, V2_MAX_LENGTH);
  });

  it('after a verdict, the parser repeats it', () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.from('USER')).kind, 'invalid');
    assert.equal(parser.push(Buffer.from('PROXY UNKNOWN\r\n')).kind, 'invalid');
  });
});
