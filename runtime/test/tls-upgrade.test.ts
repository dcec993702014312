// One TLS upgrade path (tls/upgrade.ts) for POP3S and STLS, against the real
// daemon: a handshake that never completes is cut at the same timeout on both,
// and every handshake that does not finish is counted the same way, in
// `GET /v1/status` (counters.tlsHandshakeFailures, tlsHandshakeTimeouts) and
// in /metrics (pop3d_tls_handshake_failures_total).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { freePort, makeCertificate, Pop3Client, startReadyDaemon, type Daemon } from '@pop3-iac/test-kit';

/** limits.authTimeoutSeconds below: the handshake timeout of both paths (shorter than its 30 s cap). */
const TIMEOUT_MS = 1000;

interface Counts {
  failures: number;
  timeouts: number;
  metricFailures: number;
}

async function counts(daemon: Daemon): Promise<Counts> {
  const status = (await daemon.admin('GET', '/v1/status')).body as {
    counters: { tlsHandshakeFailures: number; tlsHandshakeTimeouts: number };
  };
  const metrics = (await daemon.admin('GET', '/metrics')).text;
  const sample = /^pop3d_tls_handshake_failures_total (\d+)$/m.exec(metrics);
  assert.ok(sample, 'pop3d_tls_handshake_failures_total is in /metrics');
  return {
    failures: status.counters.tlsHandshakeFailures,
    timeouts: status.counters.tlsHandshakeTimeouts,
    metricFailures: Number(sample[1]),
  };
}

/** Waits (up to 15 s; lines are written in batches) for the `count`th line of this event from this TLS path. */
async function logged(daemon: Daemon, event: string, mode: string, count = 1): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = daemon.logEvents().filter((e: Record<string, unknown>) => e.event === event && e.mode === mode);
    if (found.length >= count) return found[count - 1]!;
    if (Date.now() > deadline) assert.fail(`no ${count}× ${event} (mode ${mode}) in the log:\n${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('one TLS upgrade path for POP3S and STLS', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  const cert = makeCertificate();
  before(async () => {
    [port, sslPort] = [await freePort(), await freePort()];
    daemon = await startReadyDaemon({
      config: {
        binds: `127.0.0.1 ${port}`,
        starttls: true,
        ssl: { enabled: true, binds: `127.0.0.1 ${sslPort}` },
        tls: { certPem: cert.certPem, keyPem: cert.keyPem },
        limits: { authTimeoutSeconds: TIMEOUT_MS / 1000 },
      },
    });
  });
  after(() => daemon.stop());

  /** A plain connection that has been answered +OK to STLS. */
  async function afterStls(): Promise<Pop3Client> {
    const wire = await Pop3Client.open({ host: '127.0.0.1', port, timeoutMs: 15_000 });
    assert.match((await wire.line()) ?? '', /^\+OK/);
    assert.equal(await wire.command('STLS'), '+OK Begin TLS negotiation');
    return wire;
  }

  it('POP3S: a client that never starts its handshake is cut at the handshake timeout and counted', async () => {
    const before = await counts(daemon);
    const wire = await Pop3Client.open({ host: '127.0.0.1', port: sslPort, timeoutMs: 15_000 });
    try {
      assert.equal(await wire.waitClosed(), true);
    } finally {
      wire.close();
    }
    const event = await logged(daemon, 'tls.handshake_timeout', 'pop3s');
    assert.equal(event.timeoutMs, TIMEOUT_MS);
    assert.deepEqual(await counts(daemon), {
      failures: before.failures + 1,
      timeouts: before.timeouts + 1,
      metricFailures: before.metricFailures + 1,
    });
  });

  it('STLS: a client that sends nothing after +OK is cut at the same timeout and counted the same way', async () => {
    const before = await counts(daemon);
    const wire = await afterStls();
    try {
      assert.equal(await wire.waitClosed(), true);
    } finally {
      wire.close();
    }
    const event = await logged(daemon, 'tls.handshake_timeout', 'stls');
    assert.equal(event.timeoutMs, TIMEOUT_MS);
    assert.deepEqual(await counts(daemon), {
      failures: before.failures + 1,
      timeouts: before.timeouts + 1,
      metricFailures: before.metricFailures + 1,
    });
  });

  it('STLS: a ClientHello that never completes is cut at the same timeout and counted', async () => {
    const before = await counts(daemon);
    const wire = await afterStls();
    try {
      // A handshake record header announcing 512 octets, and the first few of a ClientHello: never the rest.
      wire.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      assert.equal(await wire.waitClosed(), true);
    } finally {
      wire.close();
    }
    const event = await logged(daemon, 'tls.handshake_timeout', 'stls', 2);
    assert.equal(event.timeoutMs, TIMEOUT_MS);
    assert.deepEqual(await counts(daemon), {
      failures: before.failures + 1,
      timeouts: before.timeouts + 1,
      metricFailures: before.metricFailures + 1,
    });
  });

  it('STLS: a handshake that fails (bytes that are not TLS) is counted as a failure, not a timeout', async () => {
    const before = await counts(daemon);
    const wire = await afterStls();
    try {
      wire.socket.write('USER alice\r\nPASS secret\r\n');
      assert.equal(await wire.waitClosed(), true);
    } finally {
      wire.close();
    }
    await logged(daemon, 'tls.handshake_failed', 'stls');
    assert.deepEqual(await counts(daemon), {
      failures: before.failures + 1,
      timeouts: before.timeouts,
      metricFailures: before.metricFailures + 1,
    });
  });

  it('STLS: a handshake that completes is not counted as a failure, and the session goes on in TLS', async () => {
    const before = await counts(daemon);
    const wire = await afterStls();
    const secure = tls.connect({ socket: wire.socket, ca: cert.certPem, servername: 'localhost' });
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      secure.write('CAPA\r\n');
      const [reply] = (await new Promise<Buffer>((resolve) => secure.once('data', resolve))).toString().split('\r\n');
      assert.match(reply ?? '', /^\+OK/);
    } finally {
      secure.destroy();
    }
    assert.deepEqual(await counts(daemon), before);
  });
});
