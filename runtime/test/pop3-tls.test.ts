/**
 * STLS (RFC 2595), implicit TLS, and the plaintext-login rule, over real TLS.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { isLoopback } from '@pop3-iac/schema';
import { type Harness, type HarnessOptions, startHarness } from './support/harness';
import { makeMaildir, makeTempDir, removeDir, Pop3Client, makeCertificate } from '@pop3-iac/test-kit';

const MSG = 'Subject: hi\r\n\r\nhello\r\n';
const REFUSED = '-ERR [AUTH] Plaintext authentication disallowed on non-secure connection; use STLS or port 995';

describe('pop3 TLS', () => {
  let certDir: string;
  let cert: { key: string; cert: string };
  let h: Harness | undefined;
  const start = async (opts: HarnessOptions = {}): Promise<Harness> => {
    h = await startHarness({ cert, starttls: true, ...opts });
    await makeMaildir(h.root, 'alice', [MSG]);
    return h;
  };
  before(async () => {
    certDir = await makeTempDir('pop3-cert-');
    const made = makeCertificate();
    cert = { key: made.keyPem, cert: made.certPem };
  });
  after(async () => {
    await removeDir(certDir);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('CAPA before/after STLS', async () => {
    const hh = await start({ peerAddress: '192.0.2.10' });
    const c = await hh.connect();
    // Not encrypted, not loopback: no USER, no SASL PLAIN, but STLS.
    assert.deepEqual((await c.multi('CAPA')).lines, [
      'TOP',
      'UIDL',
      'PIPELINING',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'STLS',
      'IMPLEMENTATION pop3d',
    ]);
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    await c.startTls();
    // Re-derived under TLS: USER and SASL PLAIN now, STLS no more.
    assert.deepEqual((await c.multi('CAPA')).lines, [
      'TOP',
      'USER',
      'UIDL',
      'PIPELINING',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'SASL PLAIN',
      'IMPLEMENTATION pop3d',
    ]);
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in, 1 messages/);
    const retr = await c.multi('RETR 1');
    assert.equal(retr.lines.join('\r\n') + '\r\n', MSG);
    assert.ok(hh.logs.some((l) => l.event === 'tls.starttls'));
  });

  it('commands pipelined after STLS are not executed', async () => {
    const hh = await start();
    const c = await hh.connect();
    // One segment: STLS, then plaintext commands an attacker injected.
    c.writeRaw('STLS\r\nUSER alice\r\nPASS alice-secret\r\nQUIT\r\n');
    assert.equal(await c.readLine(), '+OK Begin TLS negotiation');
    await c.startTls();
    // Nothing of the above ran: not logged in, no USER remembered, not quit.
    assert.equal(await c.command('PASS alice-secret'), '-ERR No USER given');
    assert.equal(await c.command('STAT'), '-ERR Command not valid in this state');
    assert.ok(!hh.logs.some((l) => l.event === 'login.succeeded'));
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('USER given before STLS is forgotten', async () => {
    const hh = await start();
    const c = await hh.connect();
    assert.equal(await c.command('USER alice'), '+OK');
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    await c.startTls();
    assert.equal(await c.command('PASS alice-secret'), '-ERR No USER given');
  });

  it('a TLS error on one connection does not kill the process (garbage bytes after STLS)', async () => {
    const hh = await start();
    const c = await hh.connect();
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    c.writeRaw('USER alice\r\nPASS alice-secret\r\n' + '\x16\x03\x01\x00\x05garbage'.repeat(10));
    await c.waitClosed();
    await hh.idle();
    assert.ok(hh.logs.some((l) => l.event === 'tls.error'));
    assert.ok(!hh.logs.some((l) => l.event === 'login.succeeded'));
    // The server still serves.
    const c2 = await hh.connect();
    assert.equal(await c2.command('STLS'), '+OK Begin TLS negotiation');
    await c2.startTls();
    assert.match((await c2.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('a client that drops during the handshake is cleaned up', async () => {
    const hh = await start();
    const c = await hh.connect();
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    c.close();
    await hh.idle();
    assert.equal(hh.sessions.size, 0);
  });

  it('a second STLS is refused', async () => {
    const hh = await start();
    const c = await hh.connect();
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    await c.startTls();
    assert.equal(await c.command('STLS'), '-ERR Command not permitted when TLS active');
  });

  it('STLS is not offered when starttls is off or no certificate is loaded', async () => {
    const hh = await start({ starttls: false });
    const c = await hh.connect();
    assert.ok(!(await c.multi('CAPA')).lines.includes('STLS'));
    assert.equal(await c.command('STLS'), '-ERR Unknown command');
    await hh.close();
    h = await startHarness({ starttls: true });
    const c2 = await h.connect();
    assert.ok(!(await c2.multi('CAPA')).lines.includes('STLS'));
    assert.equal(await c2.command('STLS'), '-ERR Unknown command');
  });

  it('plaintext refused from non-loopback with the right code', async () => {
    const hh = await start({ peerAddress: '203.0.113.5' });
    const c = await hh.connect();
    assert.equal(await c.command('USER alice'), REFUSED);
    assert.equal(await c.command('AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA=='), REFUSED);
    assert.equal(await c.command('AUTH PLAIN'), REFUSED);
    assert.deepEqual((await c.multi('AUTH')).lines, []);
    assert.ok(!hh.logs.some((l) => l.event === 'login.succeeded'));
    // The operator may allow it; settings are read afresh.
    hh.settings.allowPlaintextAuth = true;
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('loopback peers count as secure for the plaintext rule', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', 'not-an-ip', ''])
      assert.equal(isLoopback(a), false, a);
  });

  it('implicit TLS: no STLS, plaintext login allowed from anywhere', async () => {
    const hh = await start({ implicitTls: true, peerAddress: '198.51.100.7' });
    const c = await hh.connect();
    const capa = (await c.multi('CAPA')).lines;
    assert.ok(capa.includes('USER') && capa.includes('SASL PLAIN') && !capa.includes('STLS'));
    assert.equal(await c.command('STLS'), '-ERR Command not permitted when TLS active');
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
    const retr = await c.multi('RETR 1');
    assert.equal(retr.lines.join('\r\n') + '\r\n', MSG);
    assert.equal(await c.command('QUIT'), '+OK Logging out (0 deleted)');
    await c.waitClosed();
  });

  it('terminate() during a handshake closes without writing plaintext', async () => {
    const hh = await start();
    const c = await hh.connect();
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    for (const s of hh.sessions) s.terminate('shutdown');
    await c.waitClosed();
    await hh.idle();
  });

  it('keeps serving after a client resets the connection', async () => {
    const hh = await start();
    const { client } = await Pop3Client.connect(hh.port);
    client.socket.resetAndDestroy();
    await hh.idle();
    const c = await hh.connect();
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
  });
});
