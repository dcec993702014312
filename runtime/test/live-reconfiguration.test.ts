// Issue: live re-configuration. Real pop3d, real sockets on 127.0.0.0/8 and ::1.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { freePort, startReadyDaemon, type Daemon, greeting, login } from '@pop3-iac/test-kit';

const MESSAGE = 'From: a@example.test\r\nSubject: kept\r\n\r\nbody line\r\n';

describe('listeners follow the applied configuration', () => {
  let daemon: Daemon;
  let ports: number[];

  before(async () => {
    ports = [
      await freePort('127.0.0.1'),
      await freePort('127.0.0.2'),
      await freePort('127.0.0.3'),
      await freePort('::1'),
    ];
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${ports[0]}` },
      mail: { alice: [{ content: MESSAGE }] },
    });
  });
  after(() => daemon.stop());

  it('applies the seed text form: exactly those three addresses accept POP3', async () => {
    const [p1, p2, p3] = ports as [number, number, number];
    const response = await daemon.admin('PUT', '/v1/config', {
      binds: `127.0.0.1 ${p1}, 127.0.0.2 ${p2}, 127.0.0.3 ${p3}`,
    });
    assert.equal(response.status, 200, response.text);
    for (const [host, port] of [
      ['127.0.0.1', p1],
      ['127.0.0.2', p2],
      ['127.0.0.3', p3],
    ] as const) {
      assert.match((await greeting({ host, port })) ?? '', /^\+OK/, `${host}:${port}`);
    }
    // Same ports on addresses not named: nothing listens there.
    await assert.rejects(greeting({ host: '127.0.0.4', port: p1 }), /ECONNREFUSED/);
    await assert.rejects(greeting({ host: '127.0.0.1', port: p2 }), /ECONNREFUSED/);
    const status = (await daemon.admin('GET', '/v1/status')).body as {
      listeners: Array<{ address: string; port: number }>;
    };
    assert.deepEqual(
      status.listeners.map((l) => `${l.address} ${l.port}`).sort(),
      [`127.0.0.1 ${p1}`, `127.0.0.2 ${p2}`, `127.0.0.3 ${p3}`].sort(),
    );
  });

  it('a session on a kept listener survives an apply that drops one bind and adds [::1]', async () => {
    const [p1, p2, , p4] = ports as [number, number, number, number];
    const session = await login({ host: '127.0.0.1', port: p1 }, 'alice', 'secret');
    const response = await daemon.admin('PUT', '/v1/config', {
      binds: `127.0.0.1 ${p1}, 127.0.0.2 ${p2}, [::1] ${p4}`,
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual((response.body as { plan: { open: unknown[]; close: unknown[] } }).plan.open, [
      { address: '::1', port: p4, tls: false },
    ]);
    const retr = await session.multi('RETR 1');
    assert.equal(retr.status?.startsWith('+OK'), true);
    assert.deepEqual(retr.lines, ['From: a@example.test', 'Subject: kept', '', 'body line']);
    assert.match((await session.command('QUIT')) ?? '', /^\+OK/);
    session.close();
    assert.match((await greeting({ host: '::1', port: p4 })) ?? '', /^\+OK/);
    await assert.rejects(greeting({ host: '127.0.0.3', port: ports[2]! }), /ECONNREFUSED/);
  });

  it('a removed listener stops accepting while its open session finishes undisturbed', async () => {
    const [p1, p2, , p4] = ports as [number, number, number, number];
    const session = await login({ host: '127.0.0.2', port: p2 }, 'alice', 'secret');
    const response = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${p1}, [::1] ${p4}` });
    assert.equal(response.status, 200, response.text);
    await assert.rejects(greeting({ host: '127.0.0.2', port: p2 }), /ECONNREFUSED/);
    assert.match((await session.command('STAT')) ?? '', /^\+OK 1 \d+$/);
    assert.match((await session.command('QUIT')) ?? '', /^\+OK/);
    session.close();
  });
});

describe('an apply that cannot bind changes nothing', () => {
  let daemon: Daemon;
  let blocker: ReturnType<typeof createServer>;
  let heldPort: number;
  let servingPort: number;

  before(async () => {
    servingPort = await freePort();
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${servingPort}` } });
    blocker = createServer();
    blocker.listen(0, '127.0.0.2');
    await once(blocker, 'listening');
    heldPort = (blocker.address() as { port: number }).port;
  });
  after(async () => {
    blocker.close();
    await daemon.stop();
  });

  it('fails naming the bind held by another process; the old config still serves, unchanged and not persisted', async () => {
    const before = await daemon.admin('GET', '/v1/config');
    const persistedBefore = await readFile(`${daemon.stateDir}/config.json`, 'utf8');
    const freshPort = await freePort('127.0.0.3');
    const response = await daemon.admin('PUT', '/v1/config', {
      binds: `127.0.0.1 ${servingPort}, 127.0.0.3 ${freshPort}, 127.0.0.2 ${heldPort}`,
    });
    assert.equal(response.status, 409, response.text);
    const body = response.body as { code: string; message: string; bind: unknown; field: string };
    assert.equal(body.code, 'apply_failed');
    assert.match(body.message, new RegExp(`127\\.0\\.0\\.2:${heldPort}.*in use`));
    assert.deepEqual(body.bind, { address: '127.0.0.2', port: heldPort, tls: false });
    assert.equal(body.field, 'binds');
    // Rolled back: the listener this apply had opened is closed again.
    await assert.rejects(greeting({ host: '127.0.0.3', port: freshPort }), /ECONNREFUSED/);
    assert.match((await greeting({ host: '127.0.0.1', port: servingPort })) ?? '', /^\+OK/);
    const after = await daemon.admin('GET', '/v1/config');
    assert.deepEqual(after.body, before.body);
    assert.equal(after.headers.etag, before.headers.etag);
    assert.equal(await readFile(`${daemon.stateDir}/config.json`, 'utf8'), persistedBefore);
  });
});

describe('ETag and concurrency', () => {
  let daemon: Daemon;
  let ports: number[];

  before(async () => {
    ports = [];
    for (let i = 0; i < 23; i += 1) ports.push(await freePort());
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${ports[0]}` } });
  });
  after(() => daemon.stop());

  it('wrong If-Match gets 412; the right one applies; the now-stale one gets 412', async () => {
    const current = await daemon.admin('GET', '/v1/config');
    const etag = String(current.headers.etag);
    const wrong = await daemon.admin(
      'PUT',
      '/v1/config',
      { binds: `127.0.0.1 ${ports[1]}` },
      { 'If-Match': '"not-the-etag"' },
    );
    assert.equal(wrong.status, 412);
    assert.equal((wrong.body as { code: string }).code, 'precondition_failed');
    const right = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${ports[1]}` }, { 'If-Match': etag });
    assert.equal(right.status, 200, right.text);
    assert.notEqual(right.headers.etag, etag);
    const stale = await daemon.admin('PUT', '/v1/config', { binds: `127.0.0.1 ${ports[2]}` }, { 'If-Match': etag });
    assert.equal(stale.status, 412);
  });

  it('an identical configuration is a no-op', async () => {
    const current = await daemon.admin('GET', '/v1/config');
    const again = await daemon.admin('PUT', '/v1/config', current.body);
    assert.equal(again.status, 200);
    assert.equal((again.body as { applied: boolean }).applied, false);
    assert.equal(again.headers.etag, current.headers.etag);
  });

  it('20 concurrent PUTs: each applied or refused with 412, the final config is one of them, no listener leaked', async () => {
    const etag = String((await daemon.admin('GET', '/v1/config')).headers.etag);
    // ports[1] runs now (the triad test), so each of these 20 is a real change.
    const configs = ports.slice(3).map((port) => ({ binds: `127.0.0.1 ${port}` }));
    const results = await Promise.all(
      configs.map((config) => daemon.admin('PUT', '/v1/config', config, { 'If-Match': etag })),
    );
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 412),
      statuses.join(','),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 1, 'exactly one wins the race for one ETag');
    const unconditional = await Promise.all(configs.map((config) => daemon.admin('PUT', '/v1/config', config)));
    assert.ok(unconditional.every((r) => r.status === 200));
    const final = (await daemon.admin('GET', '/v1/config')).body as { binds: Array<{ port: number }> };
    assert.equal(final.binds.length, 1);
    assert.ok(ports.slice(3).includes(final.binds[0]!.port));
    const status = (await daemon.admin('GET', '/v1/status')).body as { listeners: Array<{ port: number }> };
    assert.deepEqual(
      status.listeners.map((l) => l.port),
      [final.binds[0]!.port],
    );
    const listening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(`pid=${daemon.process.pid},`))
      .map((line) => Number(/:(\d+)\s/.exec(line)?.[1]));
    assert.deepEqual(listening, [final.binds[0]!.port], 'ss -ltn agrees with the status');
  });
});

describe('persistence', () => {
  it('a restart brings back the applied listeners from the persisted config, not from --config', async () => {
    const [seedPort, appliedPort] = [await freePort(), await freePort('127.0.0.2')];
    const first = await startReadyDaemon({ config: { binds: `127.0.0.1 ${seedPort}` } });
    const applied = await first.admin('PUT', '/v1/config', { binds: `127.0.0.2 ${appliedPort}`, deny: ['10.*'] });
    assert.equal(applied.status, 200, applied.text);
    assert.equal(await first.stop(), 0);
    const second = await startReadyDaemon({ config: { binds: `127.0.0.1 ${seedPort}` }, dir: first.dir });
    try {
      assert.ok(second.logEvents().some((e) => e.event === 'config.persisted_wins'));
      const config = (await second.admin('GET', '/v1/config')).body as { binds: unknown; deny: unknown };
      assert.deepEqual(config.binds, [{ address: '127.0.0.2', port: appliedPort }]);
      assert.deepEqual(config.deny, ['10.*']);
      assert.match((await greeting({ host: '127.0.0.2', port: appliedPort })) ?? '', /^\+OK/);
      await assert.rejects(greeting({ host: '127.0.0.1', port: seedPort }), /ECONNREFUSED/);
    } finally {
      await second.stop();
    }
  });
});
