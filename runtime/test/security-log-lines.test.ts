// What pop3d's log says, and does not, against the real daemon: U+2028/U+2029
// in a logged value are escaped (a JSON line stays one line for every reader);
// an unknown user name (often a password typed into the wrong field) is logged
// as a per-process HMAC tag, never verbatim; a POP3S client that never finishes
// its handshake is logged and counted.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startServing, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

/** A Maildir file name holding both separators. */
const SEPARATED = 'x\u2028y\u2029z';

/** Waits (up to 15 s) until `count` events of this name are logged (lines are written in batches). */
async function events(daemon: Daemon, event: string, count: number): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = daemon.logEvents().filter((e) => e.event === event);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('log lines', () => {
  let daemon: Daemon;
  let port: number;
  let sslPort: number;
  before(async () => {
    ({ daemon, port, sslPort } = await startServing({
      ssl: true,
      config: { limits: { authTimeoutSeconds: 1, loginFailureDelayMs: 0, loginFailureDelayMaxMs: 0 } },
      users: { alex: 'pw' },
      mail: {
        alex: [
          { name: SEPARATED, folder: 'new', content: 'Subject: a\r\n\r\nnew\r\n' },
          { name: `${SEPARATED}:2,`, folder: 'cur', content: 'Subject: b\r\n\r\ncur\r\n' },
        ],
      },
    }));
  });
  after(() => daemon.stop());

  it('U+2028 and U+2029 in a logged Maildir file name are written escaped, and the line still parses to the name', async () => {
    // A new/ file whose cur/ name is taken is logged by name (maildir_move_skipped); the Maildir's owner chose it.
    const wire = await login({ host: '127.0.0.1', port }, 'alex', 'pw');
    await wire.command('QUIT');
    wire.close();
    const [event] = await events(daemon, 'maildir.move_skipped', 1);
    assert.equal(event?.file, SEPARATED);
    assert.equal(daemon.output().includes('\u2028'), false);
    assert.equal(daemon.output().includes('\u2029'), false);
    assert.ok(daemon.output().includes('x\\u2028y\\u2029z'));
  });

  it('an unknown user name is logged as an HMAC tag, the same tag for the same name, never the name itself', async () => {
    const secretLike = 'Tr0ub4dor&3-correct-horse';
    const wire = await Pop3Client.open({ host: '127.0.0.1', port });
    try {
      await wire.line();
      for (let i = 0; i < 2; i++) {
        await wire.command(`USER ${secretLike}`);
        assert.match((await wire.command('PASS whatever')) ?? '', /^-ERR \[AUTH\]/);
      }
      await wire.command(`USER other-unknown`);
      await wire.command('PASS whatever');
    } finally {
      wire.close();
    }
    const failed = await events(daemon, 'login.failed', 3);
    assert.equal(daemon.output().includes(secretLike), false);
    assert.equal(daemon.output().includes('other-unknown'), false);
    for (const e of failed) assert.match(String(e.user), /^unknown:[0-9a-f]{16}$/);
    assert.equal(failed[0]!.user, failed[1]!.user);
    assert.notEqual(failed[0]!.user, failed[2]!.user);
  });

  it('a POP3S client that never starts its handshake is cut at the auth timeout, logged and counted', async () => {
    const silent = connect({ host: '127.0.0.1', port: sslPort });
    silent.on('error', () => undefined);
    await once(silent, 'connect');
    const closed = once(silent, 'close');
    const event = await daemon.waitForEvent('tls.handshake_timeout', 15_000);
    assert.equal(event.timeoutMs, 1000);
    await closed;
    const status = (await daemon.admin('GET', '/v1/status')).body as {
      counters: { tlsHandshakeTimeouts: number; tlsHandshakeFailures: number };
    };
    assert.equal(status.counters.tlsHandshakeTimeouts, 1);
    assert.ok(status.counters.tlsHandshakeFailures >= 1);
  });
});
