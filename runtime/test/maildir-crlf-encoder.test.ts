/**
 * The WebAssembly RETR encoder (crlf-kernel.wat) against the reference
 * Normaliser: the same octets for any message cut into any chunks, and the
 * message shapes the benchmark sends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EncoderLane, ENCODER_CHUNK } from '../src/maildir/crlf-encoder';
import { Normaliser } from '../src/maildir/normalise';

/** What RETR sends for `chunks` through the encoder (one lane, regions alternating as streamMessage does). */
function encode(chunks: readonly Buffer[]): Buffer {
  const lane = EncoderLane.acquire();
  const out: Buffer[] = [];
  let region: 0 | 1 = 0;
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += ENCODER_CHUNK) {
      const piece = chunk.subarray(at, at + ENCODER_CHUNK);
      piece.copy(lane.input(region));
      out.push(Buffer.from(lane.encode(region, piece.length, region))); // a copy: the view is reused
      region = region === 0 ? 1 : 0;
    }
  }
  const tail = lane.finish();
  if (tail !== undefined) out.push(tail);
  EncoderLane.release(lane);
  return Buffer.concat(out);
}

function reference(chunks: readonly Buffer[]): Buffer {
  const norm = new Normaliser({ dotStuff: true });
  const out: Buffer[] = chunks.map((c) => Buffer.from(norm.transform(c)));
  const tail = norm.finishBuffer();
  if (tail !== undefined) out.push(tail);
  return Buffer.concat(out);
}

/** `data` cut at the given offsets. */
function cut(data: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((a) => a % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, data.length]) {
    chunks.push(data.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe('RETR encoder (WebAssembly)', () => {
  it('sends what the reference normaliser sends, for any octets cut anywhere', () => {
    // Few distinct octets, so that CR, LF and "." meet in every order; long runs reach the 16-octet path.
    const octet = fc.constantFrom(0x0a, 0x0d, 0x2e, 0x61, 0x61, 0x61, 0x61, 0x00, 0xff);
    const run = fc.tuple(octet, fc.integer({ min: 1, max: 40 })).map(([o, n]) => Buffer.alloc(n, o));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            octet.map((o) => Buffer.of(o)),
            run,
          ),
          { maxLength: 200 },
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (parts, at) => {
          const data = Buffer.concat(parts);
          const chunks = cut(data, at);
          assert.deepEqual(encode(chunks), reference(chunks));
        },
      ),
      { numRuns: 3000 },
    );
  });

  for (const [shape, line, eol] of [
    ['base64 attachment lines (76 octets)', 'QUJD'.repeat(19), '\n'],
    ['plain text lines (66 octets)', 'The quick brown fox jumps over the lazy dog. '.padEnd(66, '-'), '\n'],
    ['long lines (998 octets)', 'y'.repeat(998), '\n'],
    ['lines stored with CRLF', 'stored as sent, nothing to change here'.padEnd(76, '='), '\r\n'],
    ['lines starting with "."', '.' + 'x'.repeat(60), '\n'],
  ] as const) {
    it(`a 1 MB message of ${shape}, in chunks of one read`, () => {
      const data = Buffer.from(
        ('Subject: shape\n\n' + (line + eol).repeat(Math.ceil(1e6 / (line.length + 1)))).replace(
          /\n/g,
          eol === '\n' ? '\n' : '\r\n',
        ),
        'latin1',
      );
      assert.deepEqual(encode([data]), reference([data]));
      assert.deepEqual(encode(cut(data, [1, ENCODER_CHUNK - 1, ENCODER_CHUNK + 77, 500_001])), reference([data]));
    });
  }

  it('a message ending without a newline, or in a CR held back at the end of a chunk, ends in CRLF', () => {
    for (const text of ['no newline', 'ends in CR\r', '\r', '.', 'line\n.\r']) {
      const data = Buffer.from(text, 'latin1');
      assert.deepEqual(encode([data]), reference([data]), JSON.stringify(text));
      assert.deepEqual(encode(cut(data, [data.length - 1])), reference([data]), JSON.stringify(text));
    }
  });
});
