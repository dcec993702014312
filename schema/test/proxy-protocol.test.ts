// The PROXY protocol fields (schema/README.md "PROXY protocol"): `proxy` on
// structured binds, and `proxyProtocol` with its cross-field rule; their
// canonical form, diff and listeners; and a configuration without them keeps
// the form it had.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { canonicalize, diffConfigs, listenerKey, listenersOf, parseConfig, planListeners } from '../src';

function issuesOf(input: unknown): Array<{ path: string; message: string }> {
  const result = parseConfig(input);
  assert.equal(result.ok, false, 'expected the input to be refused');
  return result.ok ? [] : result.issues.map(({ path, message }) => ({ path, message }));
}

describe('schema: PROXY protocol', () => {
  it('a proxy bind without proxyProtocol.trusted is an error at that path, naming the bind', () => {
    assert.deepEqual(issuesOf({ binds: ['127.0.0.1 1100', { address: '127.0.0.2', port: 1100, proxy: true }] }), [
      {
        path: 'proxyProtocol.trusted',
        message:
          'is required because binds[1] has proxy: true: list the balancers allowed to send a PROXY header (e.g. ["10.0.0.5"])',
      },
    ]);
    // An SSL bind counts even while SSL is off, and an empty list is no better than none.
    assert.deepEqual(issuesOf({ ssl: { binds: [{ address: '::1', proxy: true }] }, proxyProtocol: { trusted: [] } }), [
      {
        path: 'proxyProtocol.trusted',
        message: 'must list at least one balancer because ssl.binds[0] has proxy: true',
      },
    ]);
  });

  it('refuses trusting every address, a bad pattern, a bad timeout, unknown keys and a non-boolean proxy', () => {
    const issues = issuesOf({
      binds: [{ address: '127.0.0.1', proxy: 'yes' }],
      proxyProtocol: { trusted: ['10.0.0.5', '0.0.0.0/0', '10.0.0.300'], timeoutSeconds: 61, extra: 1 },
    });
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, [
      'binds',
      'proxyProtocol.extra',
      'proxyProtocol.timeoutSeconds',
      'proxyProtocol.trusted[2]',
    ]);
    assert.match(
      issuesOf({ proxyProtocol: { trusted: ['10.0.0.5', '0.0.0.0/0'] } })[0]!.message,
      /"0.0.0.0\/0" would trust every address/,
    );
    for (const every of ['*', '::/0'])
      assert.match(issuesOf({ proxyProtocol: { trusted: [every] } })[0]!.message, /would trust every address/);
  });

  it('canonical form: proxy only when true, trusted sorted and canonical, timeout filled in', () => {
    const config = canonicalize({
      binds: [{ address: '127.0.0.2', port: 1100, proxy: true }, { address: '127.0.0.1', proxy: false }, '::1 1101'],
      proxyProtocol: { trusted: '10.1.2.3/8, 127.0.0.1' },
    });
    assert.deepEqual(config.binds, [
      { address: '127.0.0.1', port: 110 },
      { address: '127.0.0.2', port: 1100, proxy: true },
      { address: '::1', port: 1101 },
    ]);
    assert.deepEqual(config.proxyProtocol, { trusted: ['10.0.0.0/8', '127.0.0.1'], timeoutSeconds: 5 });
    // A fixed point, as every canonical form is.
    assert.deepEqual(canonicalize(JSON.parse(JSON.stringify(config))), config);
    // Without the new fields nothing changes in the canonical form.
    const plain = canonicalize({ binds: '127.0.0.1 1100' });
    assert.equal('proxyProtocol' in plain, false);
    assert.deepEqual(plain.binds, [{ address: '127.0.0.1', port: 1100 }]);
  });

  it('diff names the changed proxy fields; toggling proxy reopens the listener', () => {
    const before = canonicalize({ binds: [{ address: '127.0.0.1', port: 1100 }] });
    const after = canonicalize({
      binds: [{ address: '127.0.0.1', port: 1100, proxy: true }],
      proxyProtocol: { trusted: ['127.0.0.9'], timeoutSeconds: 3 },
    });
    assert.deepEqual(
      diffConfigs(before, after).map((c) => c.path),
      ['binds', 'proxyProtocol'],
    );
    const later = canonicalize({ ...after, proxyProtocol: { trusted: ['127.0.0.9'], timeoutSeconds: 4 } });
    assert.deepEqual(
      diffConfigs(after, later).map((c) => c.path),
      ['proxyProtocol.timeoutSeconds'],
    );
    const [listener] = listenersOf(after);
    assert.deepEqual(listener, { address: '127.0.0.1', port: 1100, tls: false, proxy: true });
    assert.equal(listenerKey(listener!), 'pop3 127.0.0.1:1100 proxy');
    const plan = planListeners(listenersOf(before), listenersOf(after));
    assert.deepEqual(
      [plan.open.map(listenerKey), plan.close.map(listenerKey)],
      [['pop3 127.0.0.1:1100 proxy'], ['pop3 127.0.0.1:1100']],
    );
  });

  it('a proxy bind conflicts with another bind on its address and port like any bind', () => {
    assert.deepEqual(
      issuesOf({
        binds: [{ address: '127.0.0.1', port: 1100, proxy: true }, '127.0.0.1 1100'],
        proxyProtocol: { trusted: ['127.0.0.9'] },
      }).map((i) => i.path),
      ['binds[1]'],
    );
  });
});
