// The admin API over mutual TLS (--admin-listen): who may connect, who may
// apply, and that each apply names its maker; curl and our client against the
// real pop3d on loopback.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AdminApiError,
  AdminClient,
  AdminServerUntrustedError,
  AdminTimeoutError,
  AdminTlsRejectedError,
  DaemonUnreachableError,
  type RecentApply,
  type TlsTarget,
} from '@pop3-iac/admin-client';
import {
  adminListenArgs,
  makeAdminPki,
  type AdminPki,
  type Identity,
  freePort,
  POP3D_BIN,
  removeDir,
  startReadyDaemon,
  type Daemon,
} from '@pop3-iac/test-kit';

async function curl(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const { execa } = await import('execa');
  const result = await execa('curl', ['--silent', '--show-error', '--max-time', '20', ...args], { reject: false });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

/** Resolves once the daemon's log satisfies `done`; fails after 20 s with the log. */
async function logged(daemon: Daemon, done: (events: Array<Record<string, unknown>>) => boolean): Promise<void> {
  for (let waited = 0; !done(daemon.logEvents()); waited += 20) {
    if (waited > 20_000) assert.fail(`the log never showed it:\n${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('admin listener (mutual TLS)', () => {
  let pki: AdminPki;
  let daemon: Daemon;
  let url: string;
  let pop3Port: number;
  const as = (identity: Identity, ca = pki.ca): TlsTarget => ({
    url,
    caPem: ca.certPem,
    certPem: identity.certPem,
    keyPem: identity.keyPem,
  });
  const curlAs = (identity: Identity | undefined, path: string, extra: string[] = []) =>
    curl([
      '--cacert',
      pki.ca.cert,
      ...(identity ? ['--cert', identity.cert, '--key', identity.key] : []),
      ...extra,
      `${url}${path}`,
    ]);

  before(async () => {
    pki = await makeAdminPki(['127.0.0.1']);
    pop3Port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${pop3Port}` },
      args: adminListenArgs(pki, '127.0.0.1:0'),
    });
    const ready = await daemon.waitForEvent('pop3d.ready');
    url = `https://${String(ready.adminListen)}`;
  });
  after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
    await removeDir(pki.dir);
  });

  it('curl --cert/--key/--cacert https://…/v1/status reads the status, instanceId included', async () => {
    const { stdout, exitCode } = await curlAs(pki.deployer, '/v1/status');
    assert.equal(exitCode, 0);
    const status = JSON.parse(stdout) as { instanceId: string; adminListen: { port: number } };
    assert.match(status.instanceId, /^[0-9a-f-]{36}$/);
    assert.equal(`https://127.0.0.1:${status.adminListen.port}`, url);
  });

  it('no client certificate, or one from another CA, fails the handshake, and each is counted', async () => {
    const before = (await new AdminClient({ socket: daemon.socket }).status()).counters.adminHandshakeFailures;
    const none = await curlAs(undefined, '/v1/status');
    assert.notEqual(none.exitCode, 0, 'no certificate must not get an answer');
    assert.equal(none.stdout, '');
    const foreign = await curlAs(pki.foreign, '/v1/status');
    assert.notEqual(foreign.exitCode, 0, 'a foreign CA must not get an answer');
    assert.equal(foreign.stdout, '');
    const status = await new AdminClient({ socket: daemon.socket }).status();
    assert.equal(status.counters.adminHandshakeFailures, before + 2);
    const metrics = await new AdminClient({ socket: daemon.socket }).metrics();
    assert.match(metrics, new RegExp(`^pop3d_admin_tls_handshake_failures_total ${before + 2}$`, 'm'));
    await logged(daemon, (events) => events.filter((e) => e.event === 'admin.tls_handshake_failed').length >= 2);
  });

  it('TLS 1.2 is refused even with a deployer certificate', async () => {
    const old = await curlAs(pki.deployer, '/v1/status', ['--tls-max', '1.2']);
    assert.notEqual(old.exitCode, 0);
    assert.equal(old.stdout, '');
  });

  it('the client names the refusal: no client certificate accepted, or the daemon not trusted', async () => {
    const intruder = new AdminClient(as(pki.foreign), { timeoutMs: 10_000 });
    await assert.rejects(intruder.status(), (error: unknown) => {
      assert.ok(error instanceof AdminTlsRejectedError, String(error));
      assert.equal(error.code, 'ADMIN_TLS_REJECTED');
      assert.match(error.message, new RegExp(`${url.replace(/\./g, '\\.')} refused the TLS handshake`));
      assert.match(error.message, /--admin-client-ca/);
      return true;
    });
    intruder.close();
    // The daemon's certificate checked against a CA that did not issue it.
    const wrongCa = new AdminClient(as(pki.deployer, pki.readerCa), { timeoutMs: 10_000 });
    await assert.rejects(wrongCa.status(), (error: unknown) => {
      assert.ok(error instanceof AdminServerUntrustedError, String(error));
      assert.match(error.message, /is not trusted/);
      return true;
    });
    wrongCa.close();
  });

  it('a reader certificate reads, and gets 403 forbidden on PUT and POST', async () => {
    const reader = new AdminClient(as(pki.reader));
    const { config, etag } = await reader.getConfig();
    assert.deepEqual(config.binds, [{ address: '127.0.0.1', port: pop3Port }]);
    assert.match((await reader.status()).instanceId, /^[0-9a-f-]{36}$/);
    for (const [method, path] of [
      ['PUT', '/v1/config'],
      ['POST', '/v1/config/validate'],
    ] as const) {
      const answer = await reader.request(method, path, { binds: [] }, { 'If-Match': etag });
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.equal((answer.body as { code: string }).code, 'forbidden');
      assert.match((answer.body as { message: string }).message, /CN=drift-check.*may only read/);
    }
    await assert.rejects(reader.putConfig({ binds: [] }), (error: unknown) => {
      assert.ok(error instanceof AdminApiError);
      assert.equal(error.code, 'forbidden');
      return true;
    });
    reader.close();
    // Nothing changed: the listener still serves.
    assert.deepEqual((await new AdminClient({ socket: daemon.socket }).getConfig()).config.binds, [
      { address: '127.0.0.1', port: pop3Port },
    ]);
    // The refused apply is recorded with who tried.
    const last = (await new AdminClient({ socket: daemon.socket }).status()).recentApplies.at(-1);
    assert.equal(last?.result, 'forbidden');
    assert.match(last?.by ?? '', /CN=drift-check/);
  });

  it('a deployer applies, with the same bodies and codes as the socket, and status and the log name who applied', async () => {
    const deployer = new AdminClient(as(pki.deployer));
    const socket = new AdminClient({ socket: daemon.socket });
    const second = await freePort();
    const wanted = { binds: `127.0.0.1 ${pop3Port}, 127.0.0.1 ${second}` };
    const { etag } = await deployer.getConfig();
    const applied = await deployer.putConfig(wanted, etag);
    assert.equal(applied.applied, true);
    assert.deepEqual(
      applied.plan.open.map((l) => l.port),
      [second],
    );
    // Stale ETag: 412 precondition_failed, as on the socket.
    const stale = await deployer.request('PUT', '/v1/config', { binds: [] }, { 'If-Match': etag });
    const staleOnSocket = await socket.request('PUT', '/v1/config', { binds: [] }, { 'If-Match': etag });
    assert.equal(stale.status, 412);
    assert.equal(staleOnSocket.status, 412);
    assert.deepEqual(Object.keys(stale.body as object).sort(), Object.keys(staleOnSocket.body as object).sort());
    // An invalid configuration: 400 with the same issues.
    const invalid = await deployer.request('POST', '/v1/config/validate', { port: 70000 });
    const invalidOnSocket = await socket.request('POST', '/v1/config/validate', { port: 70000 });
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.body, invalidOnSocket.body);
    // Back to one listener, through the socket.
    const back = await socket.putConfig({ binds: `127.0.0.1 ${pop3Port}` });
    assert.equal(back.applied, true);

    const recent = (await socket.status()).recentApplies;
    const tail = recent.slice(-4);
    const byDeployer = tail.find((entry: RecentApply) => entry.result === 'applied' && entry.by !== 'unix');
    assert.ok(byDeployer, JSON.stringify(tail));
    assert.match(byDeployer.by, /CN=deployer/);
    assert.match(byDeployer.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(byDeployer.generation, applied.generation);
    assert.deepEqual(
      tail.map((entry) => [entry.by === 'unix' ? 'unix' : 'deployer', entry.result]),
      [
        ['deployer', 'applied'],
        ['deployer', 'precondition_failed'],
        ['unix', 'precondition_failed'],
        ['unix', 'applied'],
      ],
    );
    // The log line is written as the answer goes out: wait for it to arrive through the pipe.
    const isApplied = (e: Record<string, unknown>) => e.event === 'admin.apply' && e.result === 'applied';
    await logged(daemon, (events) => events.some((e) => isApplied(e) && e.by === 'unix'));
    const events = daemon.logEvents().filter(isApplied);
    assert.ok(events.some((e) => /CN=deployer/.test(String(e.by)) && e.fingerprint === byDeployer.fingerprint));
    deployer.close();
  });

  it('a host that accepts and never answers hits the deadline, named with the host', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      const client = new AdminClient({ ...as(pki.deployer), url: `https://127.0.0.1:${port}` }, { timeoutMs: 300 });
      await assert.rejects(client.status(), (error: unknown) => {
        assert.ok(error instanceof AdminTimeoutError, String(error));
        assert.equal(error.code, 'ADMIN_TIMEOUT');
        assert.match(
          error.message,
          new RegExp(`https://127\\.0\\.0\\.1:${port} did not answer GET /v1/status within 300 ms`),
        );
        return true;
      });
      client.close();
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  it('pop3d refuses --admin-listen without its certificate, key and client CA, and the TLS flags without it', async () => {
    const { execa } = await import('execa');
    const base = [
      POP3D_BIN,
      '--users',
      '/nonexistent',
      '--maildir-root',
      '/nonexistent',
      '--state-dir',
      '/nonexistent',
    ];
    const bare = await execa('node', [...base, '--admin-listen', '127.0.0.1:0'], { reject: false });
    assert.equal(bare.exitCode, 2);
    assert.match(bare.stderr, /--admin-listen needs --admin-tls-cert, --admin-tls-key, --admin-client-ca/);
    const stray = await execa('node', [...base, '--admin-reader-ca', pki.readerCa.cert], { reject: false });
    assert.equal(stray.exitCode, 2);
    assert.match(stray.stderr, /--admin-reader-ca need --admin-listen/);
    const badAddress = await execa('node', [...base, ...adminListenArgs(pki, 'somewhere')], { reject: false });
    assert.equal(badAddress.exitCode, 2);
    assert.match(badAddress.stderr, /--admin-listen somewhere: write address:port/);
  });

  it('a deadline and a named host when nothing listens there', async () => {
    const port = await freePort();
    const gone = new AdminClient({ ...as(pki.deployer), url: `https://127.0.0.1:${port}` }, { timeoutMs: 5_000 });
    await assert.rejects(gone.status(), (error: unknown) => {
      assert.ok(error instanceof DaemonUnreachableError, String(error));
      assert.match(error.message, new RegExp(`https://127\\.0\\.0\\.1:${port}: connection refused`));
      assert.equal(error.gone, false);
      return true;
    });
  });
});
