// Symlinks in a Maildir are never followed, against the real pop3d: a symlink
// planted in one's own cur/ (to another user's message, to the passwd-file) is
// not listed; one renamed over a listed message is not served; a Maildir (or
// its cur/, or the user's directory above it) that is a symlink to another
// user's is refused with [SYS/PERM], also while that user is logged in.
import { strict as assert } from 'node:assert';
import { mkdir, readdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startReadyDaemon, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

const ALICE_TEXT = 'Subject: for alice only\r\n\r\nalice-private-body\r\n';

describe('symlinks in a Maildir are not followed', () => {
  let daemon: Daemon;
  let port: number;
  let aliceMessage: string;
  const opts = () => ({ host: '127.0.0.1', port });
  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users: { alice: 'a-pass', mallory: 'm-pass', bob: 'b-pass', carol: 'c-pass', trent: 't-pass', dave: 'd-pass' },
      mail: {
        alice: [{ content: ALICE_TEXT }],
        mallory: [
          { content: 'Subject: one\r\n\r\nmallory-one\r\n' },
          { content: 'Subject: two\r\n\r\nmallory-two\r\n' },
        ],
        trent: [{ content: 'Subject: t\r\n\r\ntrent\r\n' }],
      },
    });
    const root = daemon.maildirRoot;
    aliceMessage = join(root, 'alice', 'Maildir', 'cur', (await readdir(join(root, 'alice', 'Maildir', 'cur')))[0]!);
    // Planted by mallory in their own Maildir before logging in.
    const malloryCur = join(root, 'mallory', 'Maildir', 'cur');
    await symlink(aliceMessage, join(malloryCur, '1600000000.Msym1.host:2,'));
    await symlink(daemon.usersFile, join(malloryCur, '1600000001.Msym2.host:2,'));
    // bob's Maildir is alice's.
    await mkdir(join(root, 'bob'));
    await symlink(join(root, 'alice', 'Maildir'), join(root, 'bob', 'Maildir'));
    // dave's whole directory (the folder above the Maildir) is alice's.
    await symlink(join(root, 'alice'), join(root, 'dave'));
    // carol's cur/ is alice's.
    for (const sub of ['new', 'tmp']) await mkdir(join(root, 'carol', 'Maildir', sub), { recursive: true });
    await symlink(join(root, 'alice', 'Maildir', 'cur'), join(root, 'carol', 'Maildir', 'cur'));
  });
  after(() => daemon.stop('SIGKILL'));

  /** A login with the right password whose mailbox is refused. */
  const assertMailboxRefused = async (user: string, password: string) => {
    const client = await Pop3Client.open(opts());
    try {
      await client.line();
      await client.command(`USER ${user}`);
      assert.equal(await client.command(`PASS ${password}`), '-ERR [SYS/PERM] Mailbox cannot be opened');
    } finally {
      client.close();
    }
  };

  it('a symlink in cur/ to another user message or to the passwd-file is not listed nor served', async () => {
    const wire = await login(opts(), 'mallory', 'm-pass');
    try {
      assert.match((await wire.command('STAT')) ?? '', /^\+OK 2 /);
      for (const n of [1, 2]) {
        const { status, lines } = await wire.multi(`RETR ${n}`);
        assert.match(status ?? '', /^\+OK/);
        assert.ok(lines.includes(`mallory-${n === 1 ? 'one' : 'two'}`), lines.join('|'));
      }
    } finally {
      wire.close();
    }
  });

  it('a symlink renamed over a listed message after login is refused at RETR (O_NOFOLLOW), nothing of its target sent', async () => {
    const cur = join(daemon.maildirRoot, 'trent', 'Maildir', 'cur');
    const wire = await login(opts(), 'trent', 't-pass');
    try {
      assert.match((await wire.command('STAT')) ?? '', /^\+OK 1 /);
      const [name] = await readdir(cur);
      await symlink(aliceMessage, join(cur, '.swap'));
      await rename(join(cur, '.swap'), join(cur, name!));
      const reply = await wire.command('RETR 1');
      assert.match(reply ?? '', /^-ERR \[SYS\/TEMP\]/);
      assert.match((await wire.command('NOOP')) ?? '', /^\+OK/);
    } finally {
      wire.close();
    }
  });

  it('a Maildir that is a symlink to another user Maildir is refused with [SYS/PERM], even while its owner is logged in', async () => {
    const alice = await login(opts(), 'alice', 'a-pass');
    const bob = await Pop3Client.open(opts());
    try {
      await bob.line();
      await bob.command('USER bob');
      assert.equal(await bob.command('PASS b-pass'), '-ERR [SYS/PERM] Mailbox cannot be opened');
      alice.close();
      await alice.waitClosed();
      await bob.command('USER bob');
      assert.equal(await bob.command('PASS b-pass'), '-ERR [SYS/PERM] Mailbox cannot be opened');
      await daemon.waitForEvent('mailbox.refused');
    } finally {
      alice.close();
      bob.close();
    }
  });

  it("a user directory that is a symlink to another user's is refused with [SYS/PERM]", async () => {
    await assertMailboxRefused('dave', 'd-pass');
  });

  it('a Maildir whose cur/ is a symlink to another user cur/ is refused with [SYS/PERM]', async () => {
    await assertMailboxRefused('carol', 'c-pass');
    // alice's mail is intact and still hers.
    const alice = await login(opts(), 'alice', 'a-pass');
    try {
      assert.match((await alice.command('STAT')) ?? '', /^\+OK 1 /);
    } finally {
      alice.close();
    }
  });
});
