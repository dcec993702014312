// The canonical form: equivalent spellings give equal values; the diff lists
// exactly the changed fields; the listener plan opens, closes and keeps.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { canonicalize, diffConfigs, listenersOf, planListeners, redactConfig } from '../src';

describe('canonical form', () => {
  it('text and structured binds, bracketed and bare IPv6, give the same config', () => {
    const a = canonicalize({ binds: '::1 110, 127.0.0.2, 127.0.0.1 111' });
    const b = canonicalize({
      binds: [{ address: '127.0.0.1', port: 111 }, '127.0.0.2 110', { address: '[0:0:0:0:0:0:0:1]', port: 110 }],
    });
    assert.deepEqual(a, b);
    assert.deepEqual(a.binds, [
      { address: '127.0.0.1', port: 111 },
      { address: '127.0.0.2', port: 110 },
      { address: '::1', port: 110 },
    ]);
  });

  it('sorts * first, IPv4 numerically, then IPv6', () => {
    const config = canonicalize({ binds: '10.0.0.10 1, 10.0.0.9 1, * 2, 2001:db8::1 1, ::1 1' });
    assert.deepEqual(
      config.binds.map((b) => b.address),
      ['*', '10.0.0.9', '10.0.0.10', '::1', '2001:db8::1'],
    );
  });

  it('an IPv4-mapped IPv6 bind is the IPv4 address', () => {
    assert.deepEqual(canonicalize({ binds: '::ffff:127.0.0.1 2000' }).binds, [{ address: '127.0.0.1', port: 2000 }]);
  });

  it('patterns are normalised, deduplicated and sorted', () => {
    const config = canonicalize({
      permit: ['192.168.0.1/16', '192.168.0.0/16', '10.1.*.*', '2001:DB8:0:0::1/32', ' 202.* '],
      deny: '192.168.0.5, 192.168.0.5/32, ::ffff:192.168.0.5',
    });
    assert.deepEqual(config.permit, ['10.1.*', '192.168.0.0/16', '2001:db8::/32', '202.*']);
    assert.deepEqual(config.deny, ['192.168.0.5']);
  });

  it('changing port moves every bind that names none', () => {
    assert.deepEqual(canonicalize({ binds: '127.0.0.1, 127.0.0.2 2000', port: 1100 }).binds, [
      { address: '127.0.0.1', port: 1100 },
      { address: '127.0.0.2', port: 2000 },
    ]);
  });
});

describe('diff', () => {
  it('lists exactly the changed field paths', () => {
    const before = canonicalize({ binds: '127.0.0.1 2000' });
    const after = canonicalize({
      binds: '127.0.0.1 2000, 127.0.0.2 2000',
      deny: ['10.*'],
      limits: { maxBadCommands: 3 },
    });
    assert.deepEqual(
      diffConfigs(before, after).map((c) => c.path),
      ['binds', 'deny', 'limits.maxBadCommands'],
    );
  });

  it('finds nothing between equivalent spellings', () => {
    assert.deepEqual(
      diffConfigs(canonicalize({ binds: '[::1] 110' }), canonicalize({ binds: [{ address: '::1' }] })),
      [],
    );
  });

  it('reports an added optional field', () => {
    const changes = diffConfigs(canonicalize({}), canonicalize({ tls: { certFile: '/c', keyFile: '/k' } }));
    assert.deepEqual(
      changes.map((c) => c.path),
      ['tls'],
    );
  });
});

describe('listener plan', () => {
  it('opens the new, closes the removed, keeps the rest', () => {
    const before = listenersOf(canonicalize({ binds: '127.0.0.1 2001, 127.0.0.2 2002, 127.0.0.3 2003' }));
    const after = listenersOf(canonicalize({ binds: '127.0.0.1 2001, 127.0.0.2 2002, ::1 2004' }));
    const plan = planListeners(before, after);
    assert.deepEqual(plan.open, [{ address: '::1', port: 2004, tls: false }]);
    assert.deepEqual(plan.close, [{ address: '127.0.0.3', port: 2003, tls: false }]);
    assert.equal(plan.keep.length, 2);
  });

  it('SSL binds are listeners only while SSL is enabled', () => {
    assert.equal(listenersOf(canonicalize({ binds: [] })).length, 0);
    const on = listenersOf(canonicalize({ binds: [], ssl: { enabled: true }, tls: { certFile: '/c', keyFile: '/k' } }));
    assert.deepEqual(on, [{ address: '*', port: 995, tls: true }]);
  });
});

describe('redaction', () => {
  it('leaves file paths and drops nothing else', () => {
    const config = canonicalize({ tls: { certFile: '/c', keyFile: '/k' } });
    assert.deepEqual(redactConfig(config), config);
  });
});
