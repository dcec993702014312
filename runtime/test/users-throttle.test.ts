/**
 * The per-address failed-login delay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peerKey } from '@pop3-iac/schema';
import { LoginThrottle } from '../src/users/index';

const LIMITS = { loginFailureDelayMs: 2000, loginFailureDelayMaxMs: 15000 };

describe('login throttle', () => {
  it('doubles per recent failure up to the cap', () => {
    const t = new LoginThrottle({ now: () => 0 });
    const delays = Array.from({ length: 6 }, () => t.recordFailure('192.0.2.1', LIMITS));
    assert.deepEqual(delays, [2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('a failure from one address never delays another; ::ffff:a.b.c.d is a.b.c.d', () => {
    const t = new LoginThrottle({ now: () => 0 });
    t.recordFailure('192.0.2.1', LIMITS);
    t.recordFailure('::ffff:192.0.2.1', LIMITS);
    assert.equal(t.failures('192.0.2.1'), 2);
    assert.equal(t.failures('192.0.2.2'), 0);
    assert.equal(t.recordFailure('192.0.2.2', LIMITS), 2000);
    assert.equal(t.recordFailure('2001:db8::1', LIMITS), 2000);
  });

  it('counts a client under the key the per-IP connection cap uses, whatever the spelling of its address', () => {
    const t = new LoginThrottle({ now: () => 0 });
    const spellings = [
      ['192.0.2.1', '::ffff:192.0.2.1', '::FFFF:c000:201', '0:0:0:0:0:ffff:192.0.2.1'],
      ['2001:db8::1', '2001:DB8:0:0::1', '2001:0db8:0000:0000:0000:0000:0000:0001'],
      ['fe80::1', 'fe80::1%eth0'],
    ];
    for (const client of spellings) {
      for (const spelling of client) t.recordFailure(spelling, LIMITS);
      for (const spelling of client) {
        assert.equal(t.failures(spelling), client.length, spelling);
        assert.equal(peerKey(spelling), peerKey(client[0]!), spelling);
      }
    }
    assert.equal(t.size, spellings.length);
  });

  it('decays by one failure per quiet period', () => {
    let now = 0;
    const t = new LoginThrottle({ now: () => now, quietPeriodMs: 1000 });
    for (let i = 0; i < 4; i++) t.recordFailure('192.0.2.1', LIMITS);
    now = 2500;
    assert.equal(t.failures('192.0.2.1'), 2);
    assert.equal(t.recordFailure('192.0.2.1', LIMITS), 8000);
    now = 10_000;
    assert.equal(t.failures('192.0.2.1'), 0);
    assert.equal(t.recordFailure('192.0.2.1', LIMITS), 2000);
  });

  it('remembers a bounded number of addresses', () => {
    const t = new LoginThrottle({ now: () => 0, maxAddresses: 100 });
    for (let i = 0; i < 1000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`, LIMITS);
    assert.ok(t.size <= 100);
    assert.equal(t.failures('10.0.3.231'), 1); // the most recent are kept
  });

  it('reads the limits it is given at each call', () => {
    const t = new LoginThrottle({ now: () => 0 });
    assert.equal(t.recordFailure('a', { loginFailureDelayMs: 0, loginFailureDelayMaxMs: 0 }), 0);
    assert.equal(t.recordFailure('a', { loginFailureDelayMs: 10, loginFailureDelayMaxMs: 1000 }), 20);
  });
});
