/**
 * The mailbox lock across processes: two real pop3d on one Maildir tree,
 * the lock file in the Maildir, a `kill -9` of the holder, and a lock left
 * by another host.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCK_FILE, LOCK_STALE_MS } from '../src/maildir/index';
import { freePort, startReadyDaemon, writeMaildir, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

const IN_USE = '-ERR [IN-USE] Mailbox is locked by another session';

/** Whether `daemon` logs an event matching `match` within a few seconds (log lines are written in batches). */
async function logs(daemon: Daemon, match: (e: Record<string, unknown>) => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (daemon.logEvents().some(match)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function passReply(port: number, user: string, password: string): Promise<{ wire: Pop3Client; reply: string }> {
  const wire = await Pop3Client.open({ host: '127.0.0.1', port });
  await wire.line();
  await wire.command(`USER ${user}`);
  return { wire, reply: (await wire.command(`PASS ${password}`)) ?? '(closed)' };
}

describe('mailbox lock across pop3d processes on one Maildir tree', () => {
  let root: string;
  let maildir: string;
  const daemons: Daemon[] = [];
  const ports: number[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pop3d-lock-'));
    maildir = await writeMaildir(root, 'alice', [{ content: 'Subject: one\r\n\r\nbody\r\n' }]);
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      ports.push(port);
      daemons.push(
        await startReadyDaemon({
          config: { binds: `127.0.0.1 ${port}` },
          users: { alice: 'alice-pw' },
          maildirRoot: root,
        }),
      );
    }
  });

  after(async () => {
    for (const d of daemons) {
      await d.stop('SIGKILL');
      await rm(d.dir, { recursive: true, force: true });
    }
    await rm(root, { recursive: true, force: true });
  });

  it('a mailbox open on daemon A is [IN-USE] on daemon B; after kill -9 of A, B serves it at once', async () => {
    const a = await login({ host: '127.0.0.1', port: ports[0]! }, 'alice', 'alice-pw');
    const lock = JSON.parse(await readFile(join(maildir, LOCK_FILE), 'utf8')) as { pid: number };
    assert.equal(lock.pid, daemons[0]!.process.pid);
    // The Maildir and the state directory share a file system here: the lock is a hard link to the
    // daemon's one lock file, so a login allocates no inode.
    const [held, source] = await Promise.all([
      stat(join(maildir, LOCK_FILE)),
      stat(join(daemons[0]!.stateDir, 'mailbox-lock')),
    ]);
    assert.equal(held.ino, source.ino);
    assert.equal(held.nlink, 2);

    const second = await passReply(ports[1]!, 'alice', 'alice-pw');
    assert.equal(second.reply, IN_USE);
    // The session stays in AUTHORIZATION and may try again.
    assert.equal(await second.wire.command('STAT'), '-ERR Command not valid in this state');

    // kill -9: no chance to remove the lock file. Same host, same boot, dead pid: stale at once.
    await daemons[0]!.stop('SIGKILL');
    a.close();
    assert.match((await second.wire.command('USER alice')) ?? '', /^\+OK/);
    assert.match((await second.wire.command('PASS alice-pw')) ?? '', /^\+OK Logged in, 1 messages/);
    assert.ok(
      await logs(daemons[1]!, (e) => e.event === 'mailbox.lock_broken' && e.reason === 'process gone'),
      'the broken lock is logged',
    );
    // QUIT removes the lock file: the next session anywhere gets the mailbox.
    assert.match((await second.wire.command('QUIT')) ?? '', /^\+OK/);
    second.wire.close();
    await assert.rejects(stat(join(maildir, LOCK_FILE)), { code: 'ENOENT' });
  });

  it(`a lock from another host holds until it is not refreshed for ${LOCK_STALE_MS / 1000} s`, async () => {
    const file = join(maildir, LOCK_FILE);
    const foreign = { host: 'other-host.invalid', boot: 'x', pid: 1, start: '1', token: 'foreign', since: 'then' };
    await writeFile(file, JSON.stringify(foreign));
    const held = await passReply(ports[1]!, 'alice', 'alice-pw');
    assert.equal(held.reply, IN_USE);
    held.wire.close();

    // Its host stopped refreshing it just over the documented time ago.
    const old = new Date(Date.now() - LOCK_STALE_MS - 5000);
    await utimes(file, old, old);
    const taken = await passReply(ports[1]!, 'alice', 'alice-pw');
    assert.match(taken.reply, /^\+OK Logged in/);
    assert.notEqual(JSON.parse(await readFile(file, 'utf8')).token, 'foreign');
    assert.ok(await logs(daemons[1]!, (e) => e.event === 'mailbox.lock_broken' && e.reason === 'not refreshed'));
    await taken.wire.command('QUIT');
    taken.wire.close();
  });

  it('a session whose lock another host broke and took leaves that lock in place when it ends', async () => {
    const file = join(maildir, LOCK_FILE);
    const session = await passReply(ports[1]!, 'alice', 'alice-pw');
    assert.match(session.reply, /^\+OK Logged in/);
    // The other host removed the lock and made its own at the name (the file system may reuse the inode number).
    await rm(file);
    const taker = { host: 'other-host.invalid', boot: 'x', pid: 1, start: '1', token: 'taken-over', since: 'now' };
    await writeFile(file, JSON.stringify(taker));
    assert.match((await session.wire.command('QUIT')) ?? '', /^\+OK/);
    await session.wire.waitClosed();
    assert.equal(JSON.parse(await readFile(file, 'utf8')).token, 'taken-over', "the taker's lock is still there");
    await rm(file);
  });
});
