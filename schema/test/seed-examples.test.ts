// Every example of the seed document (shared/seed/pop3-service-configuration.txt),
// with the meaning the seed gives it.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileAccessRules, parseConfig, renderBinds } from '../src';

function binds(text: string) {
  const result = parseConfig({ binds: text });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.config.binds;
}

describe('seed: IP Address field', () => {
  it('"192.168.0.1" listens on that address on the default port 110', () => {
    assert.deepEqual(binds('192.168.0.1'), [{ address: '192.168.0.1', port: 110 }]);
  });

  it('"192.168.0.1, 192.168.0.2, 192.168.0.3" binds three addresses', () => {
    assert.deepEqual(binds('192.168.0.1, 192.168.0.2, 192.168.0.3'), [
      { address: '192.168.0.1', port: 110 },
      { address: '192.168.0.2', port: 110 },
      { address: '192.168.0.3', port: 110 },
    ]);
  });

  it('"192.168.0.1 110, 192.168.0.2 110, 192.168.0.3 115" gives each address its port', () => {
    assert.deepEqual(binds('192.168.0.1 110, 192.168.0.2 110, 192.168.0.3 115'), [
      { address: '192.168.0.1', port: 110 },
      { address: '192.168.0.2', port: 110 },
      { address: '192.168.0.3', port: 115 },
    ]);
  });

  it('"* 115" listens on all addresses on port 115', () => {
    assert.deepEqual(binds('* 115'), [{ address: '*', port: 115 }]);
  });

  it('by default the service listens on all addresses on port 110', () => {
    const result = parseConfig({});
    assert.ok(result.ok);
    assert.deepEqual(result.config.binds, [{ address: '*', port: 110 }]);
    assert.equal(result.config.port, 110);
  });

  it('renders back to the seed text form', () => {
    assert.equal(
      renderBinds(binds('192.168.0.1 110, 192.168.0.2 110, 192.168.0.3 115'), 110),
      '192.168.0.1, 192.168.0.2, 192.168.0.3 115',
    );
    assert.equal(renderBinds(binds('* 115')), '* 115');
  });
});

describe('seed: SSL settings', () => {
  it('SSL port defaults to 995 and SSL is off by default', () => {
    const result = parseConfig({});
    assert.ok(result.ok);
    assert.deepEqual(result.config.ssl, { enabled: false, binds: [{ address: '*', port: 995 }], port: 995 });
  });

  it('"SSL IP Address" takes the same text form', () => {
    const result = parseConfig({ ssl: { binds: '192.168.0.1, 192.168.0.2, 192.168.0.3' } });
    assert.ok(result.ok);
    assert.deepEqual(
      result.config.ssl.binds.map((b) => `${b.address} ${b.port}`),
      ['192.168.0.1 995', '192.168.0.2 995', '192.168.0.3 995'],
    );
  });
});

describe('seed: Connection Control', () => {
  const admits = (pattern: string, peer: string) => compileAccessRules([pattern], []).check(peer).admitted;

  it('192.168.0.1/16 represents 192.168.0.1 through 192.168.255.255', () => {
    for (const peer of ['192.168.0.1', '192.168.0.0', '192.168.128.77', '192.168.255.255']) {
      assert.equal(admits('192.168.0.1/16', peer), true, peer);
    }
    for (const peer of ['192.169.0.0', '192.167.255.255', '10.0.0.1', '2001:db8::1']) {
      assert.equal(admits('192.168.0.1/16', peer), false, peer);
    }
  });

  it('192.168.0.* covers exactly 192.168.0.0-255', () => {
    assert.equal(admits('192.168.0.*', '192.168.0.0'), true);
    assert.equal(admits('192.168.0.*', '192.168.0.255'), true);
    assert.equal(admits('192.168.0.*', '192.168.1.0'), false);
  });

  it('202.* covers exactly 202.0.0.0/8', () => {
    assert.equal(admits('202.*', '202.0.0.1'), true);
    assert.equal(admits('202.*', '202.255.255.255'), true);
    assert.equal(admits('202.*', '203.0.0.0'), false);
    assert.equal(admits('202.*', '201.255.255.255'), false);
  });

  it('a deny list entry refuses and deny wins over permit', () => {
    const matcher = compileAccessRules(['192.168.0.*'], ['192.168.0.5']);
    assert.deepEqual(matcher.check('192.168.0.4'), { admitted: true });
    assert.deepEqual(matcher.check('192.168.0.5'), { admitted: false, rule: '192.168.0.5' });
    assert.deepEqual(matcher.check('10.0.0.1'), { admitted: false, rule: 'permit' });
  });
});
