/**
 * Passwords on the wire, against a real pop3d: compared as the bytes the
 * client sent, and bounded in length before any hashing.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_PASSWORD_BYTES } from '../src/users/index';
import { freePort, startReadyDaemon, type Daemon, Pop3Client } from '@pop3-iac/test-kit';

const LONGEST = 'L'.repeat(MAX_PASSWORD_BYTES);
const TOO_LONG = 'T'.repeat(MAX_PASSWORD_BYTES + 1);

describe('passwords as sent', () => {
  let daemon: Daemon;
  let port: number;

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pop3d-passwords-'));
    await mkdir(join(dir, 'mail'));
    // Written as bytes: a Latin-1 é (0xE9) in a PLAIN password, as a file converted from an old system holds it.
    await writeFile(
      join(dir, 'users'),
      Buffer.concat([
        Buffer.from('latin:{PLAIN}caf'),
        Buffer.from([0xe9]),
        Buffer.from(`-secret\nlongest:{PLAIN}${LONGEST}\ntoolong:{PLAIN}${TOO_LONG}\n`),
      ]),
      { mode: 0o600 },
    );
    port = await freePort();
    daemon = await startReadyDaemon({
      dir,
      config: {
        binds: `127.0.0.1 ${port}`,
        limits: { maxLineLength: 4096, loginFailureDelayMs: 0, loginFailureDelayMaxMs: 0 },
      },
    });
  });

  after(async () => {
    await daemon?.stop();
    if (daemon !== undefined) await rm(daemon.dir, { recursive: true, force: true });
  });

  /** USER then PASS with the password as raw bytes; the PASS reply. */
  async function pass(user: string, password: Buffer): Promise<string | undefined> {
    const wire = await Pop3Client.open({ host: '127.0.0.1', port });
    try {
      await wire.line();
      await wire.command(`USER ${user}`);
      wire.socket.write(Buffer.concat([Buffer.from('PASS '), password, Buffer.from('\r\n')]));
      return await wire.line();
    } finally {
      wire.close();
    }
  }
  const caf = (byte: number): Buffer =>
    Buffer.concat([Buffer.from('caf'), Buffer.from([byte]), Buffer.from('-secret')]);

  it('PASS caf\\xff-secret and caf\\x80-secret do not log in a user whose password is caf\\xe9-secret', async () => {
    assert.equal(await pass('latin', caf(0xff)), '-ERR [AUTH] Authentication failed');
    assert.equal(await pass('latin', caf(0x80)), '-ERR [AUTH] Authentication failed');
    assert.match((await pass('latin', caf(0xe9))) ?? '', /^\+OK Logged in/);
  });

  it(`a password of ${MAX_PASSWORD_BYTES} octets logs in; one of ${MAX_PASSWORD_BYTES + 1} gets [AUTH] without being checked`, async () => {
    assert.match((await pass('longest', Buffer.from(LONGEST))) ?? '', /^\+OK Logged in/);
    assert.equal(await pass('toolong', Buffer.from(TOO_LONG)), '-ERR [AUTH] Authentication failed');
    // The log says why (log lines are written in batches: wait for it).
    const said = () => daemon.logEvents().some((e) => e.event === 'login.failed' && e.reason === 'password-too-long');
    for (let i = 0; i < 100 && !said(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(said(), daemon.output());
  });
});
