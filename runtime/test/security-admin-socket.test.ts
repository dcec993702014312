// The admin socket and secrets (runtime/README.md, Guarantees), against the
// real pop3d: the socket is mode 0600 and another user cannot connect to it;
// request bodies and headers are capped; no secret (private key, password, AUTH
// payload, message content) appears in any response or log line.
import { strict as assert } from 'node:assert';
import { chmod, readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificate, freePort, startReadyDaemon, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

/** curl --unix-socket as uid/gid 65534 (nobody), with no supplementary groups. */
async function curlAsNobody(socket: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const { execa } = await import('execa');
  const result = await execa(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'curl',
      '--silent',
      '--show-error',
      '--max-time',
      '10',
      '--unix-socket',
      socket,
      'http://localhost/v1/status',
    ],
    { reject: false },
  );
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('the admin socket', () => {
  let daemon: Daemon;

  before(async () => {
    daemon = await startReadyDaemon({ config: { binds: `127.0.0.1 ${await freePort()}` } });
  });
  after(() => daemon.stop());

  it('is mode 0600, in a state directory of mode 0700, beside a persisted config of mode 0600', async () => {
    assert.equal((await stat(daemon.socket)).mode & 0o777, 0o600);
    assert.equal((await stat(daemon.stateDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(daemon.stateDir, 'config.json'))).mode & 0o777, 0o600);
  });

  it('another user cannot connect to it (and can, only when the mode is loosened: the mode is what stops them)', async () => {
    // Let everyone reach the socket's directory, so that only the socket's own mode is tested.
    await chmod(dirname(daemon.socket), 0o755);
    const refused = await curlAsNobody(daemon.socket);
    assert.equal(refused.exitCode, 7, `curl as nobody: ${refused.stderr}`);
    assert.match(refused.stderr, /Permission denied|Couldn't connect/i);
    assert.equal(refused.stdout, '');

    await chmod(daemon.socket, 0o666);
    const control = await curlAsNobody(daemon.socket);
    await chmod(daemon.socket, 0o600);
    assert.equal(control.exitCode, 0, `the control connection failed: ${control.stderr}`);
    assert.equal((JSON.parse(control.stdout) as { pid: number }).pid, daemon.process.pid);

    assert.equal((await curlAsNobody(daemon.socket)).exitCode, 7);
    await chmod(dirname(daemon.socket), 0o700);
  });

  it('a chunked body over 1 MiB (no Content-Length to refuse early) gets 413 body_too_large, and the daemon goes on', async () => {
    const pid = daemon.process.pid!;
    const rssBefore = Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]);
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: daemon.socket, method: 'PUT', path: '/v1/config' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // Transfer-Encoding: chunked; 64 MiB offered in 64 KiB chunks, far past the cap.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('response', () => (sent = Infinity));
      pump();
    }).catch((error: Error) => ({ status: -1, body: error.message }));
    assert.equal(response.status, 413, response.body);
    assert.equal((JSON.parse(response.body) as { code: string }).code, 'body_too_large');
    const rssAfter = Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.ok(rssAfter - rssBefore < 32 * 1024, `RSS grew by ${(rssAfter - rssBefore) / 1024} MB`);
    assert.equal((await daemon.admin('GET', '/v1/status')).status, 200);
  });
});

describe('no secret in any response or log line', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  const cert = makeCertificate();
  const other = makeCertificate();
  /** Every base64 line of the private keys: none may appear anywhere outside the daemon. */
  const keyLines = [cert.keyPem, other.keyPem].flatMap((pem) =>
    pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l)),
  );
  const PASSWORD = 'Corr3ct-H0rse-pw';
  const WRONG = 'Wr0ng-Guess-pw';
  const BODY = 'The-Secret-Body-Text';
  const SUBJECT = 'Confidential-Subject';
  let config: Record<string, unknown>;

  before(async () => {
    [port, sslPort] = [await freePort(), await freePort()];
    config = {
      binds: `127.0.0.1 ${port}`,
      starttls: true,
      ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
      tls: { certPem: cert.certPem, keyPem: cert.keyPem },
    };
    daemon = await startReadyDaemon({
      config,
      users: { alice: PASSWORD },
      mail: { alice: [{ content: `Subject: ${SUBJECT}\r\n\r\n${BODY}\r\n.${BODY}\r\n` }] },
    });
  });
  after(() => daemon.stop());

  it('the admin API never shows the private key: get, apply, validate, status, metrics and every error', async () => {
    assert.ok(keyLines.length >= 2);
    const answers = [
      await daemon.admin('GET', '/v1/config'),
      await daemon.admin('PUT', '/v1/config', { ...config, tls: { certPem: other.certPem, keyPem: other.keyPem } }),
      await daemon.admin('POST', '/v1/config/validate', config),
      await daemon.admin('PUT', '/v1/config', config),
      await daemon.admin('GET', '/v1/status'),
      await daemon.admin('GET', '/metrics'),
      // Errors: invalid beside the key, a key that does not match, a stale ETag, not JSON around a key.
      await daemon.admin('PUT', '/v1/config', { ...config, port: 0 }),
      await daemon.admin('PUT', '/v1/config', { ...config, tls: { certPem: cert.certPem, keyPem: other.keyPem } }),
      await daemon.admin('POST', '/v1/config/validate', { ...config, tls: { certPem: 'x', keyPem: cert.keyPem } }),
      await daemon.admin('PUT', '/v1/config', config, { 'If-Match': '"stale"' }),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200, 400, 400, 400, 412],
    );
    const shown = (answers[0]!.body as { tls: Record<string, unknown> }).tls;
    assert.equal(typeof shown.keyFingerprint, 'string', 'the key is shown as a fingerprint');
    assert.equal(shown.keyPem, undefined);
    for (const answer of answers) {
      assert.ok(!answer.text.includes('PRIVATE KEY'), answer.text.slice(0, 200));
      for (const line of keyLines) assert.ok(!answer.text.includes(line), 'a line of the private key is in an answer');
    }
  });

  it('a full session (USER/PASS, a wrong password, AUTH PLAIN, RETR, TOP) logs no password, payload or content', async () => {
    const wrong = await Pop3Client.open({ host: '127.0.0.1', port });
    await wrong.line();
    await wrong.command('USER alice');
    assert.equal(await wrong.command(`PASS ${WRONG}`), '-ERR [AUTH] Authentication failed');
    const payload = Buffer.from(`\0alice\0${PASSWORD}`).toString('base64');
    assert.match((await wrong.command(`AUTH PLAIN ${payload}`)) ?? '', /^\+OK Logged in/);
    assert.equal((await wrong.multi('RETR 1')).lines[2], BODY);
    assert.equal((await wrong.multi('TOP 1 1')).lines[2], BODY);
    assert.match((await wrong.command('QUIT')) ?? '', /^\+OK/);
    wrong.close();
    const session = await login({ host: '127.0.0.1', port }, 'alice', PASSWORD);
    await session.multi('RETR 1');
    await session.command('QUIT');
    session.close();

    const log = daemon.output();
    assert.match(log, /"event":"login\.succeeded"/);
    assert.match(log, /"event":"login\.failed"/);
    for (const secret of [PASSWORD, WRONG, payload, BODY, SUBJECT, 'PRIVATE KEY', ...keyLines])
      assert.equal(log.includes(secret), false, `the log contains ${JSON.stringify(secret.slice(0, 20))}`);
  });
});
