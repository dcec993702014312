// Behind a real HAProxy (runtime/README.md "Behind HAProxy"): two pop3d on one
// Maildir tree, POP3 and POP3S listeners marked `proxy`, HAProxy in TCP mode
// with `send-proxy-v2` (and `send-proxy`, v1, on a third frontend) and
// `check-send-proxy` health checks. The client address HAProxy forwards is the
// one pop3d admits, refuses, logs and counts; nobody else can send a header,
// and a proxy listener greets no one before a valid header.
import { strict as assert } from 'node:assert';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  removeDir,
  startReadyDaemon,
  writeMaildir,
  type Daemon,
  makeCertificate,
  startHaproxy,
  type Haproxy,
  Pop3Client,
  login,
} from '@pop3-iac/test-kit';
import { encodeV2 } from '../fuzz/proxy-fuzz';

/** The balancer's own address (HAProxy connects to the servers from it). */
const BALANCER = '127.0.0.1';
/** A client the rules admit, one they deny, and an address that is neither balancer nor client. */
const CLIENT = '127.0.0.5';
const DENIED = '127.0.0.66';
const STRANGER = '127.0.0.7';

// Health checks: the greeting, then QUIT and its +OK, so every check ends as a POP3 session should.
// No explicit `tcp-check connect`: the implicit one is what `check-send-proxy` applies to
// (and, with `check-ssl` on the server line, it is a TLS connect after the header).
const POP3_CHECKS = [
  'option tcp-check',
  'tcp-check expect string +OK',
  'tcp-check send QUIT\\r\\n',
  'tcp-check expect string +OK',
];

interface Ports {
  pop3: number;
  pop3s: number;
}

describe('pop3d behind HAProxy (PROXY protocol)', () => {
  let dir: string;
  let mailRoot: string;
  let haproxy: Haproxy;
  const daemons: Daemon[] = [];
  const configs: Array<Record<string, unknown>> = [];
  const backend: Ports[] = [];
  let front: { v2: number; v2s: number; v1: number };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pop3d-haproxy-'));
    mailRoot = join(dir, 'mail');
    for (const user of ['alice', 'bob'])
      await writeMaildir(mailRoot, user, [{ content: `Subject: to ${user}\r\n\r\nhi\r\n` }]);
    const cert = makeCertificate();
    for (let i = 0; i < 2; i += 1) {
      const ports = { pop3: await freePort(), pop3s: await freePort() };
      backend.push(ports);
      configs.push({
        binds: [{ address: '127.0.0.1', port: ports.pop3, proxy: true }],
        ssl: { enabled: true, binds: [{ address: '127.0.0.1', port: ports.pop3s, proxy: true }] },
        tls: { certPem: cert.certPem, keyPem: cert.keyPem },
        deny: [DENIED],
        proxyProtocol: { trusted: [BALANCER], timeoutSeconds: 1 },
        limits: { loginFailureDelayMs: 10, loginFailureDelayMaxMs: 20 },
      });
      daemons.push(
        await startReadyDaemon({
          users: { alice: 'alice-pw', bob: 'bob-pw' },
          args: ['--maildir-root', mailRoot],
          config: configs[i],
        }),
      );
    }
    front = { v2: await freePort(), v2s: await freePort(), v1: await freePort() };
    // Both daemons behind one frontend, on their POP3 or POP3S proxy listener.
    const balanced = (name: string, port: number, tls: boolean) => ({
      name,
      port,
      checks: POP3_CHECKS,
      servers: backend.map((p, i) => ({
        name: `d${i}`,
        port: tls ? p.pop3s : p.pop3,
        options: `send-proxy-v2 check check-send-proxy${tls ? ' check-ssl verify none' : ''} inter 300ms`,
      })),
    });
    haproxy = await startHaproxy(dir, [
      balanced('pop3', front.v2, false),
      balanced('pop3s', front.v2s, true),
      {
        name: 'pop3v1',
        port: front.v1,
        checks: POP3_CHECKS,
        servers: [{ name: 'd0', port: backend[0]!.pop3, options: 'send-proxy check check-send-proxy inter 300ms' }],
      },
    ]);
    await haproxy.waitAllUp();
  });

  after(async () => {
    await haproxy?.stop();
    for (const daemon of daemons) await daemon.stop();
    for (const daemon of daemons) await removeDir(daemon.dir);
    if (dir) await removeDir(dir);
  });

  const logins = (daemon: Daemon) => daemon.logEvents().filter((e) => e.event === 'login.succeeded');

  it('health checks with check-send-proxy (v2 LOCAL on POP3 and POP3S, v1) find every daemon up', async () => {
    const rows = await haproxy.stat();
    assert.deepEqual(rows.map((r) => `${r.proxy}/${r.server} ${r.status}`).sort(), [
      'pop3_servers/d0 UP',
      'pop3_servers/d1 UP',
      'pop3s_servers/d0 UP',
      'pop3s_servers/d1 UP',
      'pop3v1_servers/d0 UP',
    ]);
  });

  it('through the balancer an admitted client logs in, on both daemons in turn, and is logged by its own address', async () => {
    const before = daemons.map((d) => logins(d).length);
    const quitsBefore = daemons.map((d) => d.logEvents().filter((e) => e.event === 'session.quit').length);
    for (let i = 0; i < 4; i += 1) {
      const wire = await login({ host: '127.0.0.1', port: front.v2, localAddress: CLIENT }, 'alice', 'alice-pw');
      assert.match((await wire.command('STAT')) ?? '', /^\+OK 1 \d+$/);
      assert.match((await wire.command('QUIT')) ?? '', /^\+OK/);
      await wire.waitClosed();
    }
    for (const [i, daemon] of daemons.entries()) {
      await daemon.waitForEvent('session.quit', undefined, quitsBefore[i]);
      const fresh = logins(daemon).slice(before[i]);
      assert.ok(fresh.length >= 1, `daemon ${i} served none of the 4 logins (round robin)`);
      for (const event of fresh) assert.equal(event.peer, CLIENT, JSON.stringify(event));
    }
    // Only health checks came from the balancer itself; no login did.
    for (const daemon of daemons)
      assert.ok(logins(daemon).every((e) => e.peer !== BALANCER && e.peer !== `::ffff:${BALANCER}`));
  });

  it('a denied client is refused through the balancer, before any greeting, and counted under its deny rule', async () => {
    for (let i = 0; i < 2; i += 1) {
      const wire = await Pop3Client.open({ host: '127.0.0.1', port: front.v2, localAddress: DENIED });
      assert.equal(await wire.line(), undefined, 'a denied client must get no greeting');
      wire.close();
    }
    const refused = await Promise.all(daemons.map(async (d) => (await statusOf(d)).refusedByRule[DENIED] ?? 0));
    assert.equal(
      refused.reduce((a, b) => a + b, 0),
      2,
    );
    // An admitted client right after it still gets in: the balancer's address was never what was refused.
    const wire = await login({ host: '127.0.0.1', port: front.v2, localAddress: CLIENT }, 'bob', 'bob-pw');
    await wire.command('QUIT');
    wire.close();
  });

  it('POP3S through the balancer (TCP mode): the TLS handshake follows the header, the client is the one logged', async () => {
    const before = daemons.map((d) => logins(d).length);
    for (let i = 0; i < 2; i += 1) {
      const lines = await tlsConversation(front.v2s, CLIENT, ['USER alice', 'PASS alice-pw', 'STAT', 'QUIT']);
      assert.match(lines[0] ?? '', /^\+OK/);
      assert.match(lines[2] ?? '', /^\+OK/, JSON.stringify(lines));
      assert.match(lines[3] ?? '', /^\+OK 1 \d+$/);
    }
    // The daemons' log lines reach this process through pipes, maybe after the replies did.
    const freshLogins = () => daemons.flatMap((d, i) => logins(d).slice(before[i]));
    for (let wait = 0; freshLogins().length < 2 && wait < 100; wait += 1) await new Promise((r) => setTimeout(r, 50));
    const fresh = freshLogins();
    assert.equal(fresh.length, 2);
    for (const event of fresh) {
      assert.equal(event.peer, CLIENT);
      assert.match(String(event.listener), / proxy$/);
      assert.match(String(event.listener), /^pop3s /);
    }
    // A denied client gets no TLS session either.
    await assert.rejects(tlsConversation(front.v2s, DENIED, []));
  });

  it('PROXY v1 (send-proxy): the client address is carried too', async () => {
    const before = logins(daemons[0]!).length;
    const wire = await login({ host: '127.0.0.1', port: front.v1, localAddress: CLIENT }, 'bob', 'bob-pw');
    await wire.command('QUIT');
    wire.close();
    await daemons[0]!.waitForEvent('login.succeeded', undefined, before);
    const fresh = logins(daemons[0]!).slice(before);
    assert.deepEqual(
      fresh.map((e) => e.peer),
      [CLIENT],
    );
  });

  it('maxConnectionsPerIp counts the client behind the balancer, not the balancer', async () => {
    const limited = { ...configs[0], limits: { ...(configs[0]!.limits as object), maxConnectionsPerIp: 3 } };
    assert.equal((await daemons[0]!.admin('PUT', '/v1/config', limited)).status, 200);
    const open: Pop3Client[] = [];
    try {
      // The v1 frontend has daemon 0 only.
      for (let i = 0; i < 3; i += 1) {
        const wire = await Pop3Client.open({ host: '127.0.0.1', port: front.v1, localAddress: CLIENT });
        open.push(wire);
        assert.match((await wire.line()) ?? '', /^\+OK/);
      }
      const fourth = await Pop3Client.open({ host: '127.0.0.1', port: front.v1, localAddress: CLIENT });
      open.push(fourth);
      assert.equal(await fourth.line(), '-ERR [SYS/TEMP] too many connections, try later');
      // Another client through the same balancer is not held back by the first one's connections.
      const other = await Pop3Client.open({ host: '127.0.0.1', port: front.v1, localAddress: '127.0.0.6' });
      open.push(other);
      assert.match((await other.line()) ?? '', /^\+OK/);
    } finally {
      for (const wire of open) wire.close();
      assert.equal((await daemons[0]!.admin('PUT', '/v1/config', configs[0])).status, 200);
    }
  });

  it('direct connections are closed before any greeting: untrusted, untrusted with a forged header, trusted without one', async () => {
    const daemon = daemons[0]!;
    const port = backend[0]!.pop3;
    const start = (await statusOf(daemon)).refusedByRule;
    const forged = encodeV2(0x1, 0x11, Buffer.from([127, 0, 0, 5, 127, 0, 0, 1, 0x9c, 0x40, 0, 110]));

    // From an address that is not the balancer: closed at once, whatever it sends.
    assert.deepEqual(await rawExchange(port, STRANGER, undefined), '');
    assert.deepEqual(await rawExchange(port, STRANGER, forged), '');
    assert.deepEqual(
      await rawExchange(port, STRANGER, Buffer.from(`PROXY TCP4 ${CLIENT} 127.0.0.1 40000 ${port}\r\n`)),
      '',
    );
    // From the balancer's address without a header: POP3 right away, and nothing at all (the deadline).
    assert.deepEqual(await rawExchange(port, BALANCER, Buffer.from('CAPA\r\n')), '');
    assert.deepEqual(await rawExchange(port, BALANCER, undefined), '');
    // The POP3S listener: a TLS ClientHello without a header is no header.
    await assert.rejects(tlsConversation(backend[0]!.pop3s, BALANCER, []));

    const now = (await statusOf(daemon)).refusedByRule;
    const delta = (rule: string) => (now[rule] ?? 0) - (start[rule] ?? 0);
    assert.deepEqual(
      [delta('proxy-untrusted'), delta('proxy-header-invalid'), delta('proxy-header-timeout')],
      [3, 2, 1],
    );
    // None of it became a session: no login, no greeting, from anyone but the balancer's clients.
    assert.deepEqual(
      daemon.logEvents().filter((e) => e.peer === STRANGER),
      [],
    );
    const refusals = daemon.logEvents().filter((e) => e.event === 'proxy.header_refused');
    assert.deepEqual(
      refusals.slice(-3).map((e) => [e.peer, e.reason]),
      [
        [BALANCER, 'not-a-proxy-header'],
        [BALANCER, 'timeout'],
        [BALANCER, 'not-a-proxy-header'],
      ],
    );
  });

  it('bytes that arrive with the header are not lost: a pipelined command, a TLS ClientHello', async () => {
    const header = encodeV2(0x1, 0x11, Buffer.from([127, 0, 0, 5, 127, 0, 0, 1, 0x9c, 0x40, 0, 110]));
    const wire = await Pop3Client.open({ host: '127.0.0.1', port: backend[0]!.pop3, localAddress: BALANCER });
    wire.socket.write(Buffer.concat([header, Buffer.from('QUIT\r\n')]));
    assert.match((await wire.line()) ?? '', /^\+OK .*ready/);
    assert.match((await wire.line()) ?? '', /^\+OK/);
    assert.equal(await wire.line(), undefined, 'QUIT closes the session');
    wire.close();
    // The header and the ClientHello in one segment (corked), as a balancer may send them.
    const lines = await tlsConversation(backend[0]!.pop3s, BALANCER, ['QUIT'], header);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.match(lines[1]!, /^\+OK/);
  });

  it('health checks leave no warning or error in the logs of a daemon only the balancer talks to', async () => {
    // Daemon 1 got only balanced sessions and health checks (the direct probes went to daemon 0).
    const checks = daemons[1]!.logEvents().filter((e) => e.peer === BALANCER && e.event === 'session.quit');
    assert.ok(checks.length >= 4, `health checks seen: ${checks.length}`);
    for (const daemon of daemons)
      assert.deepEqual(
        daemon.logEvents().filter((e) => e.level === 'error'),
        [],
      );
    assert.deepEqual(
      daemons[1]!.logEvents().filter((e) => e.level === 'warn'),
      [],
    );
  });
});

interface Counters {
  refusedByRule: Record<string, number>;
}

async function statusOf(daemon: Daemon): Promise<Counters> {
  const response = await daemon.admin('GET', '/v1/status');
  assert.equal(response.status, 200);
  return (response.body as { counters: Counters }).counters;
}

/** Connects from `from`, sends `data` (if any), and returns everything received until the server closes. */
async function rawExchange(port: number, from: string, data: Buffer | undefined): Promise<string> {
  const wire = await Pop3Client.open({ host: '127.0.0.1', port, localAddress: from });
  if (data) wire.socket.write(data);
  const line = await wire.line();
  wire.close();
  return line ?? '';
}

/** A POP3S conversation from `from`: the greeting, then one reply per command. */
function tlsConversation(port: number, from: string, commands: string[], header?: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // node:tls has no localAddress: the TCP connection is made first, from the chosen source.
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress: from });
    if (header) {
      tcp.cork();
      tcp.write(header);
      tcp.once('connect', () => process.nextTick(() => tcp.uncork()));
    }
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false });
    let buffer = '';
    const lines: string[] = [];
    let sent = 0;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        lines.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (sent < commands.length) socket.write(`${commands[sent++]}\r\n`);
        else {
          socket.end();
          resolve(lines);
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (lines.length === 0) reject(new Error('closed before the greeting'));
      else resolve(lines);
    });
  });
}
