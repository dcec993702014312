// Property-based tests: render/parse round trips, and the access matcher
// against a brute-force reference that works on the numbers the addresses
// were generated from, not on their text.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalize, compileAccessRules, renderBinds, sameJson } from '../src';

const v4Number = fc.integer({ min: 0, max: 0xffffffff });
const v4Text = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
const v6Groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
const v6Text = (groups: number[]) => groups.map((g) => g.toString(16)).join(':');
const v6Big = (groups: number[]) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);

// Keep generated IPv6 addresses out of ::ffff:0:0/96 (those are IPv4 by design, tested separately).
const v6Address = v6Groups.filter((g) => !(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff));

type Pattern =
  | { kind: 'v4cidr'; base: number; length: number }
  | { kind: 'v4wild'; base: number; octets: number }
  | { kind: 'v6cidr'; base: number[]; length: number };

const pattern: fc.Arbitrary<Pattern> = fc.oneof(
  fc.record({ kind: fc.constant('v4cidr' as const), base: v4Number, length: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ kind: fc.constant('v4wild' as const), base: v4Number, octets: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('v6cidr' as const), base: v6Address, length: fc.integer({ min: 0, max: 128 }) }),
);

function patternText(p: Pattern): string {
  if (p.kind === 'v4cidr') return `${v4Text(p.base)}/${p.length}`;
  if (p.kind === 'v6cidr') return `${v6Text(p.base)}/${p.length}`;
  return `${v4Text(p.base).split('.').slice(0, p.octets).join('.')}.*`;
}

type Peer = { v4: number } | { v6: number[] };

function referenceMatch(p: Pattern, peer: Peer): boolean {
  if (p.kind === 'v6cidr') {
    if (!('v6' in peer)) return false;
    const shift = BigInt(128 - p.length);
    return v6Big(p.base) >> shift === v6Big(peer.v6) >> shift;
  }
  if (!('v4' in peer)) return false;
  const length = p.kind === 'v4cidr' ? p.length : p.octets * 8;
  if (length === 0) return true;
  const shift = 32 - length;
  return p.base >>> shift === peer.v4 >>> shift;
}

const peer: fc.Arbitrary<Peer> = fc.oneof(
  v4Number.map((v4) => ({ v4 })),
  v6Address.map((v6) => ({ v6 })),
);

// Peers near a pattern's base hit the interesting boundaries far more often than uniform ones.
const nearPeer = (p: Pattern): fc.Arbitrary<Peer> =>
  p.kind === 'v6cidr'
    ? fc
        .integer({ min: 0, max: 7 })
        .chain((i) => fc.integer({ min: 0, max: 0xffff }).map((g) => ({ v6: p.base.map((x, j) => (j === i ? g : x)) })))
    : fc.integer({ min: -300, max: 300 }).map((delta) => ({ v4: (p.base + delta) >>> 0 }));

const peerText = (p: Peer) => ('v4' in p ? v4Text(p.v4) : v6Text(p.v6));

describe('properties: access matcher agrees with a brute-force reference', () => {
  it('permit lists admit exactly the addresses some pattern covers', () => {
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 5 }), peer, (patterns, client) => {
        const matcher = compileAccessRules(canonicalize({ permit: patterns.map(patternText) }).permit, []);
        const expected = patterns.some((p) => referenceMatch(p, client));
        assert.equal(matcher.check(peerText(client)).admitted, expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('deny wins over permit, also near range boundaries', () => {
    fc.assert(
      fc.property(
        pattern.chain((p) => fc.tuple(fc.constant(p), nearPeer(p), pattern)),
        ([denied, client, permitted]) => {
          const config = canonicalize({ permit: [patternText(permitted)], deny: [patternText(denied)] });
          const matcher = compileAccessRules(config.permit, config.deny);
          const expected = referenceMatch(permitted, client) && !referenceMatch(denied, client);
          assert.equal(matcher.check(peerText(client)).admitted, expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('an IPv4-mapped IPv6 peer is matched as its IPv4 address, in any spelling', () => {
    fc.assert(
      fc.property(pattern, v4Number, (p, n) => {
        const matcher = compileAccessRules([], canonicalize({ deny: [patternText(p)] }).deny);
        const plain = matcher.check(v4Text(n)).admitted;
        const hex = `${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
        assert.equal(matcher.check(`::ffff:${v4Text(n)}`).admitted, plain);
        assert.equal(matcher.check(`::FFFF:${hex}`).admitted, plain);
        assert.equal(matcher.check(`0:0:0:0:0:ffff:${v4Text(n)}`).admitted, plain);
      }),
      { numRuns: 1000 },
    );
  });

  it('a zone id does not change the decision', () => {
    fc.assert(
      fc.property(v6Address, (groups) => {
        const deny = canonicalize({ deny: [`${v6Text(groups)}/128`] }).deny;
        assert.equal(compileAccessRules([], deny).check(`${v6Text(groups)}%eth0`).admitted, false);
      }),
    );
  });
});

describe('properties: binds round-trip through the text form', () => {
  const bindArb = fc.record({
    address: fc.oneof(v4Number.map(v4Text), v6Address.map(v6Text)),
    port: fc.integer({ min: 1, max: 65535 }),
  });

  it('render then parse gives the same canonical binds', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(bindArb, { minLength: 1, maxLength: 8, selector: (b) => `${b.address}|${b.port}` }),
        fc.integer({ min: 1, max: 65535 }),
        (binds, port) => {
          let config;
          try {
            config = canonicalize({ binds, port });
          } catch {
            return; // two spellings of one address: rejected as duplicates, covered elsewhere
          }
          for (const defaultPort of [undefined, port]) {
            const text = renderBinds(config.binds, defaultPort);
            assert.ok(sameJson(canonicalize({ binds: text, port }).binds, config.binds), text);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
