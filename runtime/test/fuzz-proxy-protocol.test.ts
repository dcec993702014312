// Fuzzing the PROXY protocol parser: valid v1 and v2 headers split at every
// byte and in random chunkings come out whole with the bytes after them
// untouched; every prefix is "need more"; TLVs that overrun are refused; random
// and mutated bytes never throw and never make it wait past a header's bound.
// `npm run fuzz -- --only proxy` runs the same properties 10^5 times.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { feed, fuzzProxyParser, validHeaderArb, type ProxyFuzzStats } from '../fuzz/proxy-fuzz';

describe('fuzz: the PROXY protocol parser', () => {
  it('valid headers split at every byte give the same header and the same bytes after it', () => {
    fc.assert(
      fc.property(validHeaderArb, (encoded) => {
        const input = Buffer.concat([encoded.bytes, Buffer.from('+payload')]);
        const step = feed(
          input,
          Array.from({ length: input.length }, (_, i) => i),
        );
        assert.equal(step.kind, 'header');
        if (step.kind !== 'header') return;
        assert.deepEqual(step.header, encoded.expected);
        // Split at every byte: the header ends exactly where its last byte came in.
        assert.equal(step.rest.length, 0);
        assert.equal(step.asked, encoded.bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it('random chunkings, prefixes, overrunning TLVs, random and mutated bytes: never a throw, always bounded', () => {
    const stats: ProxyFuzzStats = { cases: 0, headers: 0, invalid: 0 };
    fuzzProxyParser({ numRuns: 4000, stats });
    assert.equal(stats.cases, 4000);
    assert.ok(stats.headers >= 500, `valid headers: ${stats.headers}`);
    assert.ok(stats.invalid >= 1000, `refused inputs: ${stats.invalid}`);
  });
});
