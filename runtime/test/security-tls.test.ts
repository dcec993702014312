// TLS (runtime/README.md, Guarantees: "TLS"), against the real pop3d: TLS 1.2
// is the minimum by default and the minimum is configurable live; a certificate
// replaced by an apply reaches new handshakes (POP3S and STLS) without a
// restart while open sessions continue; a certificate that does not match its
// key is refused at validation and changes nothing.
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import {
  makeCertificate,
  type TestCertificate,
  Pop3Client,
  freePort,
  startReadyDaemon,
  type Daemon,
} from '@pop3-iac/test-kit';

type Versions = Pick<tls.ConnectionOptions, 'minVersion' | 'maxVersion' | 'ciphers'>;
/** A client that can speak TLS 1.0 and 1.1 (OpenSSL's security level 0 lets it offer them). */
const OLD_CLIENT: Versions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
const TLS12_CLIENT: Versions = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
const TLS13_CLIENT: Versions = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };

/** The negotiated protocol, or the handshake error. */
async function handshake(socket: tls.TLSSocket): Promise<string> {
  try {
    await Promise.race([
      once(socket, 'secureConnect'),
      once(socket, 'close').then(() => {
        throw new Error('closed during the handshake');
      }),
    ]);
    return socket.getProtocol() ?? 'unknown';
  } catch (error) {
    return `error: ${(error as Error).message}`;
  } finally {
    socket.destroy();
  }
}

function implicitTls(port: number, versions: Versions): Promise<string> {
  return handshake(tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...versions }));
}

/** Plain connection, STLS, then a TLS handshake with these versions. */
async function starttls(port: number, versions: Versions): Promise<string> {
  const plain = netConnect({ host: '127.0.0.1', port });
  plain.on('error', () => undefined);
  let text = '';
  const onData = (chunk: Buffer) => (text += chunk.toString('latin1'));
  plain.on('data', onData);
  const untilLines = async (n: number) => {
    while (text.split('\r\n').length <= n) await once(plain, 'data');
  };
  await untilLines(1);
  plain.write('STLS\r\n');
  await untilLines(2);
  assert.equal(text.split('\r\n')[1], '+OK Begin TLS negotiation');
  plain.off('data', onData);
  return handshake(tls.connect({ socket: plain, rejectUnauthorized: false, ...versions }));
}

/** SHA-256 fingerprint of the certificate a TLS socket was shown. */
function seenFingerprint(client: Pop3Client): string {
  return (client.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
}

function fingerprintOf(cert: TestCertificate): string {
  return new X509Certificate(cert.certPem).fingerprint256;
}

describe('TLS versions', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  let config: Record<string, unknown>;
  const cert = makeCertificate();

  before(async () => {
    [port, sslPort] = [await freePort(), await freePort()];
    config = {
      binds: `127.0.0.1 ${port}`,
      starttls: true,
      ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
      tls: { certPem: cert.certPem, keyPem: cert.keyPem },
    };
    daemon = await startReadyDaemon({ config });
  });
  after(() => daemon.stop());

  it("the test client can speak TLS 1.1 to a server that allows it (so a refusal below is pop3d's)", async () => {
    const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem, ...OLD_CLIENT }, (s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port: controlPort } = server.address() as { port: number };
    assert.equal(await implicitTls(controlPort, OLD_CLIENT), 'TLSv1.1');
    server.close();
  });

  it('by default TLS 1.0 and 1.1 are refused and TLS 1.2 is accepted, on POP3S and after STLS', async () => {
    assert.match(await implicitTls(sslPort, OLD_CLIENT), /^error: /);
    assert.match(await starttls(port, OLD_CLIENT), /^error: /);
    assert.equal(await implicitTls(sslPort, TLS12_CLIENT), 'TLSv1.2');
    assert.equal(await starttls(port, TLS12_CLIENT), 'TLSv1.2');
    const status = (await daemon.admin('GET', '/v1/status')).body as { counters: { tlsHandshakeFailures: number } };
    assert.ok(status.counters.tlsHandshakeFailures >= 1, 'the refused handshake is counted');
  });

  it('tls.minVersion TLSv1.3, applied live, refuses TLS 1.2 on new handshakes', async () => {
    const applied = await daemon.admin('PUT', '/v1/config', {
      ...config,
      tls: { ...(config.tls as object), minVersion: 'TLSv1.3' },
    });
    assert.equal(applied.status, 200, applied.text);
    assert.match(await implicitTls(sslPort, TLS12_CLIENT), /^error: /);
    assert.match(await starttls(port, TLS12_CLIENT), /^error: /);
    assert.equal(await implicitTls(sslPort, TLS13_CLIENT), 'TLSv1.3');
    assert.equal(await starttls(port, TLS13_CLIENT), 'TLSv1.3');
    // Back to the default: TLS 1.2 again.
    assert.equal((await daemon.admin('PUT', '/v1/config', config)).status, 200);
    assert.equal(await implicitTls(sslPort, TLS12_CLIENT), 'TLSv1.2');
  });
});

describe('certificates', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  const [certA, certB] = [makeCertificate(), makeCertificate()];
  const configWith = (cert: TestCertificate, tlsField?: Record<string, string>) => ({
    binds: `127.0.0.1 ${port}`,
    starttls: true,
    ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
    tls: tlsField ?? { certPem: cert.certPem, keyPem: cert.keyPem },
  });

  before(async () => {
    [port, sslPort] = [await freePort(), await freePort()];
    daemon = await startReadyDaemon({
      config: configWith(certA),
      mail: {
        alice: [{ content: 'Subject: one\r\n\r\nbody one\r\n' }],
        bob: [{ content: 'Subject: two\r\n\r\nbody two\r\n' }],
      },
      users: { alice: 'secret', bob: 'bob-pw' },
    });
  });
  after(() => daemon.stop());

  it('a certificate replaced through an apply: new handshakes see it at once; open TLS sessions continue', async () => {
    assert.notEqual(fingerprintOf(certA), fingerprintOf(certB));
    // Open sessions on certificate A: one POP3S, one upgraded with STLS.
    const { client: pop3s } = await Pop3Client.connect(sslPort, { tls: true });
    assert.equal(seenFingerprint(pop3s), fingerprintOf(certA));
    assert.match((await pop3s.login('alice', 'secret')) ?? '', /^\+OK/);
    const { client: upgraded } = await Pop3Client.connect(port);
    assert.equal(await upgraded.command('STLS'), '+OK Begin TLS negotiation');
    await upgraded.startTls();
    assert.equal(seenFingerprint(upgraded), fingerprintOf(certA));
    assert.match((await upgraded.login('bob', 'bob-pw')) ?? '', /^\+OK/);

    const applied = await daemon.admin('PUT', '/v1/config', configWith(certB));
    assert.equal(applied.status, 200, applied.text);
    assert.deepEqual((applied.body as { plan: { open: unknown[]; close: unknown[] } }).plan.open, []);

    // New handshakes, both kinds, see B.
    const { client: fresh } = await Pop3Client.connect(sslPort, { tls: true });
    assert.equal(seenFingerprint(fresh), fingerprintOf(certB));
    fresh.close();
    const { client: freshStls } = await Pop3Client.connect(port);
    assert.equal(await freshStls.command('STLS'), '+OK Begin TLS negotiation');
    await freshStls.startTls();
    assert.equal(seenFingerprint(freshStls), fingerprintOf(certB));
    freshStls.close();

    // The sessions opened before carry on, on A.
    assert.deepEqual(await pop3s.multi('RETR 1'), { status: '+OK 26 octets', lines: ['Subject: one', '', 'body one'] });
    assert.equal(await pop3s.command('QUIT'), '+OK Logging out (0 deleted)');
    assert.deepEqual(await upgraded.multi('RETR 1'), {
      status: '+OK 26 octets',
      lines: ['Subject: two', '', 'body two'],
    });
    assert.equal(await upgraded.command('QUIT'), '+OK Logging out (0 deleted)');
    assert.equal(seenFingerprint(upgraded), fingerprintOf(certA));
    pop3s.close();
    upgraded.close();

    // One daemon process throughout: no restart.
    assert.equal(daemon.logEvents().filter((e) => e.event === 'pop3d.ready').length, 1);
    assert.equal(daemon.process.exitCode, null);
  });

  it('a certificate that does not match its key is refused at validation (inline and files); nothing changes', async () => {
    const before = await daemon.admin('GET', '/v1/config');
    const inline = configWith(certA, { certPem: certA.certPem, keyPem: certB.keyPem });
    const files = configWith(certA, { certFile: certA.certFile, keyFile: certB.keyFile });
    for (const [input, field] of [
      [inline, /^tls\.(certPem|keyPem)$/],
      [files, /^tls\.(certFile|keyFile)$/],
    ] as const) {
      for (const [method, path] of [
        ['POST', '/v1/config/validate'],
        ['PUT', '/v1/config'],
      ]) {
        const response = await daemon.admin(method!, path!, input);
        assert.equal(response.status, 400, `${method} ${path}: ${response.text}`);
        const body = response.body as { code: string; issues: Array<{ path: string; message: string }> };
        assert.equal(body.code, 'invalid_config');
        assert.ok(
          body.issues.some((issue) => field.test(issue.path)),
          JSON.stringify(body.issues),
        );
        assert.ok(!response.text.includes('PRIVATE KEY'), 'the key is not echoed');
      }
    }
    const after = await daemon.admin('GET', '/v1/config');
    assert.equal(after.headers.etag, before.headers.etag, 'the running configuration is unchanged');
    const { client } = await Pop3Client.connect(sslPort, { tls: true });
    assert.equal(seenFingerprint(client), fingerprintOf(certB), 'still serving the certificate applied before');
    client.close();
  });
});
