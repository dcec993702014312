// pop3d --uidl dovecot on a Maildir tree that a real, private Dovecot (POP3, IMAP, LDA) serves too:
// the same UIDL for every message whoever looks first, deletions seen both ways, Dovecot's lock obeyed.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { chmod, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  imapMessages,
  popLoginAnswer,
  popUidls,
  shareTree,
  startDovecot,
  type DovecotInstance,
  freePort,
  POP3CTL_BIN,
  removeDir,
  startReadyDaemon,
  writeMaildir,
  type Daemon,
} from '@pop3-iac/test-kit';

const USERS = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal'];
const message = (subject: string) => `From: a@example.test\nSubject: ${subject}\n\nThis is ${subject}.\n`;

describe('sharing a Maildir with Dovecot (--uidl dovecot)', () => {
  let daemon: Daemon;
  let dovecot: DovecotInstance;
  let port: number;
  const maildir = (user: string) => join(daemon.maildirRoot, user, 'Maildir');

  before(async () => {
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}` },
      users: Object.fromEntries(USERS.map((u) => [u, 'secret'])),
      args: ['--uidl', 'dovecot'],
    });
    // Dovecot's processes (auth, mail as the mail user) must reach the tree and the users file.
    await chmod(daemon.dir, 0o755);
    await chmod(daemon.usersFile, 0o644);
    dovecot = await startDovecot({ dir: daemon.dir, maildirRoot: daemon.maildirRoot, usersFile: daemon.usersFile });
  });

  after(async () => {
    await daemon?.stop();
    await dovecot?.stop();
    if (daemon) await removeDir(daemon.dir);
  });

  it('lists exactly the UIDLs Dovecot POP3 listed, message by message, and uidl-check agrees', async () => {
    await writeMaildir(daemon.maildirRoot, 'ann', [
      { content: message('one'), folder: 'new' },
      { content: message('two'), folder: 'new' },
      { content: message('three'), name: '1700000003.M3P9.host:2,S', folder: 'cur' },
      { content: message('four'), name: '1700000004.M4P9.host:2,FS', folder: 'cur' },
    ]);
    shareTree(daemon.maildirRoot);
    const fromDovecot = await popUidls(dovecot.pop3Port, 'ann', 'secret');
    assert.equal(fromDovecot.size, 4);
    const fromPop3d = await popUidls(port, 'ann', 'secret');
    assert.deepEqual(fromPop3d, fromDovecot);
    assert.match([...fromPop3d.values()][0]!, /^[0-9a-f]{16}$/);

    const { execa } = await import('execa');
    const check = (args: string[]) =>
      execa('node', [POP3CTL_BIN, 'uidl-check', daemon.maildirRoot, 'ann', ...args], { reject: false });
    const agree = await check(['--uidl', 'dovecot']);
    assert.equal(agree.exitCode, 0, agree.stdout + agree.stderr);
    const differ = await check(['--uidl', 'maildir']);
    assert.equal(differ.exitCode, 1, differ.stdout + differ.stderr);
    assert.match(differ.stdout, /ann: 4 of 4 messages differ/);
    assert.deepEqual(dovecot.errors(), []);
  });

  for (const first of ['pop3d', 'Dovecot'] as const) {
    it(`gives mail delivered by dovecot-lda and dropped into new/ the UIDL Dovecot gives, ${first} looking first`, async () => {
      const user = first === 'pop3d' ? 'bob' : 'cat';
      await writeMaildir(daemon.maildirRoot, user, [{ content: message('old'), folder: 'cur' }]);
      shareTree(daemon.maildirRoot);
      await popUidls(dovecot.pop3Port, user, 'secret'); // Dovecot served this mailbox before the switch
      dovecot.deliver(user, message('by lda'));
      await writeFile(join(maildir(user), 'new', `${Math.floor(Date.now() / 1000)}.M1P1.drop`), message('dropped'));
      shareTree(daemon.maildirRoot);
      const a = await popUidls(first === 'pop3d' ? port : dovecot.pop3Port, user, 'secret');
      const b = await popUidls(first === 'pop3d' ? dovecot.pop3Port : port, user, 'secret');
      assert.equal(a.size, 3);
      assert.deepEqual(a, b);
      assert.deepEqual(dovecot.errors(), []);
    });
  }

  it('coexists with Dovecot IMAP: deletions both ways, \\Seen after RETR, one UIDVALIDITY, no error in Dovecot’s log', async () => {
    await writeMaildir(
      daemon.maildirRoot,
      'dan',
      ['keep', 'pop-del', 'imap-del'].map((s) => ({ content: message(s), folder: 'new' as const })),
    );
    shareTree(daemon.maildirRoot);
    const before = await imapMessages(dovecot.imapPort, 'dan', 'secret');
    assert.equal(before.messages.length, 3);
    const uidls = await popUidls(port, 'dan', 'secret', ['pop-del']);
    const validity = Number(/UIDVALIDITY (\d+)/.exec(before.status)![1]);
    for (const m of before.messages)
      assert.equal(uidls.get(m.subject), m.uid.toString(16).padStart(8, '0') + validity.toString(16).padStart(8, '0'));
    const afterPop = await imapMessages(dovecot.imapPort, 'dan', 'secret', 'imap-del');
    assert.deepEqual(afterPop.messages.map((m) => m.subject).sort(), ['imap-del', 'keep']);
    // RETR through pop3d flags the message seen at QUIT, as Dovecot's POP3 does (pop3_no_flag_updates = no).
    assert.ok(
      afterPop.messages.every((m) => m.flags.includes('\\Seen')),
      JSON.stringify(afterPop.messages),
    );
    const left = await popUidls(port, 'dan', 'secret');
    assert.deepEqual([...left.keys()], ['keep']);
    assert.equal(left.get('keep'), uidls.get('keep'));
    assert.deepEqual(
      (await imapMessages(dovecot.imapPort, 'dan', 'secret')).messages.map((m) => m.subject),
      ['keep'],
    );
    assert.deepEqual(dovecot.errors(), []);
  });

  it('waits for a fresh dovecot-uidlist.lock, then answers -ERR [SYS/TEMP] and writes nothing; removes a stale one', async () => {
    await writeMaildir(daemon.maildirRoot, 'eve', [{ content: message('seen'), folder: 'cur' }]);
    shareTree(daemon.maildirRoot);
    const listed = await popUidls(dovecot.pop3Port, 'eve', 'secret');
    await writeFile(join(maildir('eve'), 'new', '1700000009.M9P9.host'), message('unseen'));
    const uidlist = await readFile(join(maildir('eve'), 'dovecot-uidlist'), 'utf8');
    const lock = join(maildir('eve'), 'dovecot-uidlist.lock');
    // What a lock holds while its owner writes: part of the new uidlist.
    const partial = '3 V1700000000 N2 G00000000000000000000000000000000\n1 :17000';
    await writeFile(lock, partial);
    assert.match(await popLoginAnswer(port, 'eve', 'secret'), /^-ERR \[SYS\/TEMP\]/);
    assert.equal(await readFile(join(maildir('eve'), 'dovecot-uidlist'), 'utf8'), uidlist);
    assert.equal(await readFile(lock, 'utf8'), partial);
    // A lock left by a process killed while holding it (kill -9: half-written content, not touched for
    // longer than Dovecot's 2 minutes) is stale for pop3d as for Dovecot.
    const old = new Date(Date.now() - 3 * 60 * 1000);
    await utimes(lock, old, old);
    const after = await popUidls(port, 'eve', 'secret');
    assert.equal(after.get('seen'), listed.get('seen'));
    assert.equal(existsSync(lock), false);
    assert.deepEqual(await popUidls(dovecot.pop3Port, 'eve', 'secret'), after);
    assert.deepEqual(dovecot.errors(), []);
  });

  it('refuses a torn or unreadable dovecot-uidlist with -ERR [SYS/TEMP] and leaves it as it is', async () => {
    await writeMaildir(daemon.maildirRoot, 'gus', [{ content: message('m'), folder: 'cur' }]);
    shareTree(daemon.maildirRoot);
    await popUidls(dovecot.pop3Port, 'gus', 'secret');
    const file = join(maildir('gus'), 'dovecot-uidlist');
    const whole = await readFile(file, 'utf8');
    const torn = whole.slice(0, whole.length - 5);
    await writeFile(file, torn);
    assert.match(await popLoginAnswer(port, 'gus', 'secret'), /^-ERR \[SYS\/TEMP\]/);
    assert.equal(await readFile(file, 'utf8'), torn);
    assert.ok(daemon.logEvents().some((e) => e.event === 'maildir.uidlist_unusable'));
    assert.equal(daemon.process.exitCode, null);
  });

  it('creates dovecot-uidlist as Dovecot would when there is none, and Dovecot then agrees', async () => {
    await writeMaildir(
      daemon.maildirRoot,
      'hal',
      ['a', 'b'].map((s) => ({ content: message(s), folder: 'new' as const })),
    );
    shareTree(daemon.maildirRoot);
    const t0 = Math.floor(Date.now() / 1000);
    const fromPop3d = await popUidls(port, 'hal', 'secret');
    const text = await readFile(join(maildir('hal'), 'dovecot-uidlist'), 'utf8');
    const v = Number(/^3 V(\d+) N3 G[0-9a-f]{32}\n/.exec(text)?.[1]);
    assert.ok(v >= t0 && v <= t0 + 60, text);
    assert.deepEqual(await popUidls(dovecot.pop3Port, 'hal', 'secret'), fromPop3d);
    assert.deepEqual(await readdir(join(maildir('hal'), 'new')), []);
    assert.deepEqual(dovecot.errors(), []);
  });
});
