// Connection control at accept time, against the real pop3d, with clients
// whose source addresses are real loopback addresses (all of 127/8 is local).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, startReadyDaemon, type Daemon, greeting, login } from '@pop3-iac/test-kit';

describe('permit 127.0.0.0/29, deny 127.0.0.5', () => {
  let daemon: Daemon;
  let port: number;
  let anyPort: number;

  before(async () => {
    port = await freePort();
    anyPort = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}, * ${anyPort}`, permit: ['127.0.0.0/29'], deny: ['127.0.0.5'] },
    });
  });
  after(() => daemon.stop());

  it('admits 127.0.0.4 and refuses 127.0.0.5 (denied) and 127.0.0.9 (not permitted), before any greeting', async () => {
    assert.match((await greeting({ host: '127.0.0.1', port, localAddress: '127.0.0.4' })) ?? '', /^\+OK/);
    assert.equal(await greeting({ host: '127.0.0.1', port, localAddress: '127.0.0.5' }), undefined);
    assert.equal(await greeting({ host: '127.0.0.1', port, localAddress: '127.0.0.9' }), undefined);
  });

  it('through a * (dual-stack) listener, ::ffff:127.0.0.5 is refused too', async () => {
    // The client speaks IPv4; the dual-stack socket reports it as ::ffff:127.0.0.5.
    assert.equal(await greeting({ host: '127.0.0.1', port: anyPort, localAddress: '127.0.0.5' }), undefined);
    assert.match((await greeting({ host: '127.0.0.1', port: anyPort, localAddress: '127.0.0.3' })) ?? '', /^\+OK/);
    // ::1 is not in the permit list.
    assert.equal(await greeting({ host: '::1', port: anyPort }), undefined);
  });

  it('counts refusals per rule in status and metrics', async () => {
    const status = (await daemon.admin('GET', '/v1/status')).body as {
      counters: { refusedByRule: Record<string, number> };
    };
    assert.ok((status.counters.refusedByRule['127.0.0.5'] ?? 0) >= 2);
    assert.ok((status.counters.refusedByRule.permit ?? 0) >= 2);
    const metrics = await daemon.admin('GET', '/metrics');
    assert.match(metrics.text, /^pop3d_connections_refused_total\{rule="127\.0\.0\.5",reason="deny"\} [1-9]/m);
  });
});

describe('the seed wildcard and CIDR forms, applied live', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` } });
  });
  after(() => daemon.stop());

  const cases = [
    {
      name: 'deny 127.0.0.* refuses 127.0.0.7, admits 127.0.1.7',
      rules: { deny: ['127.0.0.*'] },
      refused: '127.0.0.7',
      admitted: '127.0.1.7',
    },
    {
      name: 'deny 127.* refuses everything in 127/8 but ::1 is another family',
      rules: { deny: ['127.*'] },
      refused: '127.200.1.1',
      admitted: undefined,
    },
    {
      name: 'permit 127.0.0.1/16 (host bits ignored) admits 127.0.255.9, refuses 127.1.0.1',
      rules: { permit: ['127.0.0.1/16'] },
      refused: '127.1.0.1',
      admitted: '127.0.255.9',
    },
    {
      name: 'permit "127.0.2.*, 127.0.3.0/24" as text admits 127.0.3.3, refuses 127.0.4.4',
      rules: { permit: '127.0.2.*, 127.0.3.0/24' },
      refused: '127.0.4.4',
      admitted: '127.0.3.3',
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const response = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${port}`, ...testCase.rules });
      assert.equal(response.status, 200, response.text);
      assert.equal(await greeting({ host: '127.0.0.1', port, localAddress: testCase.refused }), undefined);
      if (testCase.admitted) {
        assert.match((await greeting({ host: '127.0.0.1', port, localAddress: testCase.admitted })) ?? '', /^\+OK/);
      }
    });
  }
});

describe('dropDeniedSessions', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${port}` }, mail: { alice: [] } });
  });
  after(() => daemon.stop());

  it('off (default): a newly denied address keeps its open session; new connections are refused', async () => {
    const session = await login({ host: '127.0.0.1', port, localAddress: '127.0.0.6' }, 'alice', 'secret');
    const response = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${port}`, deny: ['127.0.0.6'] });
    assert.equal(response.status, 200);
    assert.match((await session.command('NOOP')) ?? '', /^\+OK/);
    assert.equal(await greeting({ host: '127.0.0.1', port, localAddress: '127.0.0.6' }), undefined);
    await session.command('QUIT');
    session.close();
  });

  it('on: the apply also ends sessions from the denied address with -ERR [SYS/TEMP], deleting nothing', async () => {
    await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${port}` });
    const denied = await login({ host: '127.0.0.1', port, localAddress: '127.0.0.7' }, 'alice', 'secret');
    const response = await daemon.admin('PUT', '/v1/config', {
      binds: `127.0.0.1 ${port}`,
      deny: ['127.0.0.7'],
      dropDeniedSessions: true,
    });
    assert.equal(response.status, 200);
    assert.match((await denied.line()) ?? '', /^-ERR \[SYS\/TEMP\]/);
    assert.equal(await denied.waitClosed(), true);
  });
});
