// TLS sessions after the handshake, against the real pop3d and a real client:
// `openssl s_client -tls1_2` asking to renegotiate (its `R` command) is refused
// and the connection ends, on POP3S and after STLS; a fatal TLS error after the
// handshake (a forged record) ends the session instead of leaving it idle.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { startServing, type Daemon } from '@pop3-iac/test-kit';

/** How long a client waits for the server before the test fails, in milliseconds. */
const PATIENCE_MS = 10_000;

/**
 * Runs `openssl s_client -tls1_2` (with `extra` arguments), waits for the
 * greeting, types `R` (renegotiate), then NOOP; returns everything it printed
 * after RENEGOTIATING once it exits (the server ended the connection), or
 * throws if it is still connected after PATIENCE_MS.
 */
async function renegotiate(port: number, extra: string[]): Promise<string> {
  const client = spawn(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-crlf', '-servername', 'localhost', ...extra],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  client.stdin.on('error', () => undefined);
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString('latin1');
    for (const wake of waiters) wake();
  };
  client.stdout.on('data', collect);
  client.stderr.on('data', collect);
  const exited = once(client, 'exit');
  const until = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} from s_client:\n${output}`)), PATIENCE_MS);
      const check = () => {
        if (!pattern.test(output)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  try {
    await until(/\+OK .*\r?\n/);
    client.stdin.write('R\n');
    await until(/RENEGOTIATING/);
    client.stdin.write('NOOP\n');
    const timer = setTimeout(() => client.kill(), PATIENCE_MS);
    await exited;
    clearTimeout(timer);
    assert.notEqual(client.signalCode, 'SIGTERM', `s_client was still connected after ${PATIENCE_MS} ms:\n${output}`);
    return output.slice(output.indexOf('RENEGOTIATING'));
  } finally {
    client.kill();
  }
}

describe('TLS renegotiation is refused and a fatal TLS error ends the session', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  before(async () => {
    ({ daemon, port, sslPort } = await startServing({ ssl: true, config: { starttls: true } }));
  });
  after(() => daemon.stop());

  it('POP3S: openssl s_client -tls1_2 typing R is refused, the connection ends, NOOP is never answered', async () => {
    const after = await renegotiate(sslPort, []);
    assert.doesNotMatch(after, /\+OK/);
    await daemon.waitForEvent('tls.session_error');
  });

  it('STLS: openssl s_client -starttls pop3 -tls1_2 typing R is refused, the connection ends', async () => {
    const after = await renegotiate(port, ['-starttls', 'pop3']);
    assert.doesNotMatch(after, /\+OK/);
    // One upgrade path (tls/upgrade.ts): the STLS session's error is logged as POP3S's is, with its mode.
    const deadline = Date.now() + 15_000;
    while (!daemon.logEvents().some((e) => e.event === 'tls.session_error' && e.mode === 'stls')) {
      assert.ok(Date.now() < deadline, 'tls.session_error (mode stls) is logged');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('POP3S: a forged TLS record after the handshake ends the session at once', async () => {
    // TLS over a stream of our own, so that raw bytes can be put on the wire beside the TLS records.
    const raw = netConnect({ host: '127.0.0.1', port: sslPort });
    raw.on('error', () => undefined);
    const carrier = new Duplex({
      write(chunk: Buffer, _encoding, done) {
        raw.write(chunk, () => done());
      },
      read() {},
    });
    raw.on('data', (chunk: Buffer) => carrier.push(chunk));
    raw.on('end', () => carrier.push(null));
    const socket = tls.connect({ socket: carrier, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    await once(socket, 'data'); // the greeting
    const before = ((await daemon.admin('GET', '/v1/status')).body as { counters: { tlsSessionErrors: number } })
      .counters.tlsSessionErrors;
    // An application-data record whose MAC cannot be right: OpenSSL's "bad record mac", fatal.
    raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(0x40, 0xa5)]));
    const closed = once(raw, 'close');
    const timer = setTimeout(() => raw.destroy(new Error('still open')), PATIENCE_MS);
    await closed;
    clearTimeout(timer);
    const status = (await daemon.admin('GET', '/v1/status')).body as { counters: { tlsSessionErrors: number } };
    assert.equal(status.counters.tlsSessionErrors, before + 1);
  });
});
