// FIFOs and devices in a Maildir never stall pop3d, with the real daemon and
// real special files: a FIFO, a symlink to /dev/zero and a character device in
// one's own Maildir are neither listed nor opened for reading, also when
// renamed over a message after the listing, and also in a mailbox big enough
// for the file-system worker; another user's session is served meanwhile. And
// the worker itself, given a FIFO or /dev/zero to measure, answers instead of
// blocking.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsBatch, REFUSED } from '../src/maildir/fs-batch';
import { makeTempDir, removeDir, freePort, startReadyDaemon, type Daemon, login, Pop3Client } from '@pop3-iac/test-kit';

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/** A character device with /dev/zero's numbers (the tests run as root, as pop3d may). */
function mkzero(file: string): void {
  execFileSync('mknod', [file, 'c', '1', '5']);
}

/** Another user's session answers while the bad entries are being dealt with. */
async function servedMeanwhile(other: Pop3Client): Promise<void> {
  assert.match((await other.command('STAT')) ?? '', /^\+OK 1 /);
  const { status, lines } = await other.multi('RETR 1');
  assert.match(status ?? '', /^\+OK/);
  assert.ok(lines.includes('other-body'));
}

describe('FIFOs and devices in a Maildir never stall the daemon', () => {
  let daemon: Daemon;
  let port: number;
  const opts = () => ({ host: '127.0.0.1', port });
  before(async () => {
    port = await freePort();
    const many = Array.from({ length: 70 }, (_, i) => ({
      content: `Subject: ${i}\r\n\r\nbulk-${i}\r\n`,
      folder: 'new' as const,
    }));
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users: { alice: 'a-pass', bob: 'a-pass', carol: 'a-pass', mallory: 'm-pass', eve: 'e-pass', bulk: 'b-pass' },
      mail: {
        alice: [{ content: 'Subject: a\r\n\r\nother-body\r\n' }],
        bob: [{ content: 'Subject: a\r\n\r\nother-body\r\n' }],
        carol: [{ content: 'Subject: a\r\n\r\nother-body\r\n' }],
        mallory: [{ content: 'Subject: m\r\n\r\nmallory-body\r\n' }],
        eve: [1, 2, 3].map((n) => ({ content: `Subject: e${n}\r\n\r\neve-${n}\r\n` })),
        bulk: many,
      },
    });
    const root = daemon.maildirRoot;
    const cur = join(root, 'mallory', 'Maildir', 'cur');
    mkfifo(join(cur, '1600000000.Mfifo.host:2,'));
    await symlink('/dev/zero', join(cur, '1600000001.Mzero.host:2,'));
    mkzero(join(cur, '1600000002.Mdev.host:2,'));
    const bulkNew = join(root, 'bulk', 'Maildir', 'new');
    for (let i = 0; i < 8; i++) {
      mkfifo(join(bulkNew, `1600000100.Mfifo${i}.host`));
      await symlink('/dev/zero', join(bulkNew, `1600000200.Mzero${i}.host`));
    }
  });
  // SIGKILL: a daemon stuck in open() on a FIFO (the bug) would not act on SIGTERM.
  after(() => daemon.stop('SIGKILL'));

  it('a FIFO, a symlink to /dev/zero and a device in cur/ are not listed; the login completes with the real message', async () => {
    const alice = await login(opts(), 'alice', 'a-pass');
    const mallory = await login(opts(), 'mallory', 'm-pass');
    try {
      assert.match((await mallory.command('STAT')) ?? '', /^\+OK 1 /);
      const { lines } = await mallory.multi('RETR 1');
      assert.ok(lines.includes('mallory-body'));
      await servedMeanwhile(alice);
    } finally {
      alice.close();
      mallory.close();
    }
  });

  it('a FIFO, a /dev/zero symlink or a device renamed over a listed message is refused at RETR; others are served meanwhile', async () => {
    const cur = join(daemon.maildirRoot, 'eve', 'Maildir', 'cur');
    const eve = await login(opts(), 'eve', 'e-pass');
    const other = await login(opts(), 'bob', 'a-pass');
    try {
      assert.match((await eve.command('STAT')) ?? '', /^\+OK 3 /);
      const names = (await readdir(cur)).sort();
      mkfifo(join(cur, '.fifo'));
      await rename(join(cur, '.fifo'), join(cur, names[0]!));
      await symlink('/dev/zero', join(cur, '.zero'));
      await rename(join(cur, '.zero'), join(cur, names[1]!));
      mkzero(join(cur, '.dev'));
      await rename(join(cur, '.dev'), join(cur, names[2]!));
      for (const n of [1, 2, 3]) {
        // Sent together: a RETR blocked in open() would leave the other user unanswered.
        eve.socket.write(`RETR ${n}\r\n`);
        await servedMeanwhile(other);
        assert.match((await eve.line()) ?? '', /^-ERR \[SYS\/TEMP\]/);
      }
      assert.match((await eve.command('NOOP')) ?? '', /^\+OK/);
    } finally {
      eve.close();
      other.close();
    }
  });

  it('FIFOs and /dev/zero symlinks among 70 new messages (the worker-thread path) are skipped; the login completes', async () => {
    const bulk = await login(opts(), 'bulk', 'b-pass');
    const other = await login(opts(), 'carol', 'a-pass');
    try {
      assert.match((await bulk.command('STAT')) ?? '', /^\+OK 70 /);
      await servedMeanwhile(other);
    } finally {
      bulk.close();
      other.close();
    }
  });
});

describe('the file-system worker never reads what is not a regular file', () => {
  let dir: string;
  const batch = new FsBatch();
  before(async () => {
    dir = await makeTempDir('pop3-special-');
    await mkdir(join(dir, 'cur'));
  });
  after(() => removeDir(dir));

  it('measuring a FIFO, a symlink to /dev/zero and a device answers REFUSED for each, and measures the regular file', async () => {
    mkfifo(join(dir, 'cur', 'fifo'));
    await symlink('/dev/zero', join(dir, 'cur', 'zero'));
    mkzero(join(dir, 'cur', 'dev'));
    await writeFile(join(dir, 'cur', 'plain'), 'a\nb\n');
    const files = ['fifo', 'zero', 'dev', 'plain'].map((f) => join(dir, 'cur', f));
    assert.deepEqual([...(await batch.measure(files))], [REFUSED, REFUSED, REFUSED, 6]);
    // The worker is free again: a second batch is answered.
    assert.deepEqual([...(await batch.measure([files[3]!]))], [6]);
  });
});

describe('the files pop3d itself reads in a Maildir are opened as messages are', () => {
  let daemon: Daemon;
  let port: number;
  const opts = () => ({ host: '127.0.0.1', port });
  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users: { alice: 'a-pass', trudy: 't-pass', victor: 'v-pass' },
      mail: {
        alice: [{ content: 'Subject: a\r\n\r\nother-body\r\n' }],
        trudy: [{ content: 'Subject: t\r\n\r\ntrudy-body\r\n' }],
        victor: [{ content: 'Subject: v\r\n\r\nvictor-body\r\n' }],
      },
      args: ['--uidl', 'dovecot'],
    });
    // Each user can make these names in their own Maildir: the mailbox lock file and Dovecot's UID list.
    mkfifo(join(daemon.maildirRoot, 'trudy', 'Maildir', 'pop3d.lock'));
    mkfifo(join(daemon.maildirRoot, 'victor', 'Maildir', 'dovecot-uidlist'));
  });
  // SIGKILL: a daemon stuck in open() on a FIFO (the bug) would not act on SIGTERM.
  after(() => daemon.stop('SIGKILL'));

  for (const [user, password, name] of [
    ['trudy', 't-pass', 'pop3d.lock'],
    ['victor', 'v-pass', 'dovecot-uidlist'],
  ] as const) {
    it(`a FIFO planted as ${name} fails that login at once with -ERR; another user is served meanwhile`, async () => {
      const wire = await Pop3Client.open(opts());
      const alice = await login(opts(), 'alice', 'a-pass');
      try {
        assert.match((await wire.line()) ?? '', /^\+OK/);
        assert.match((await wire.command(`USER ${user}`)) ?? '', /^\+OK/);
        wire.socket.write(`PASS ${password}\r\n`);
        await servedMeanwhile(alice);
        assert.match((await wire.line()) ?? '', /^-ERR \[SYS\/TEMP\]/);
        // The daemon is not blocked: a new connection is greeted.
        const fresh = await Pop3Client.open(opts());
        assert.match((await fresh.line()) ?? '', /^\+OK/);
        fresh.close();
      } finally {
        wire.close();
        alice.close();
      }
    });
  }
});
