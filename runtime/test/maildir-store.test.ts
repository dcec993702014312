/**
 * The Maildir store against real files: scan, order, sizes, UIDLs, locking,
 * streaming with backpressure, and deletion.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  InvalidMailboxUserError,
  MailboxInUseError,
  MailboxUnavailableError,
  MaildirStore,
  type Mailbox,
  MessageUnavailableError,
  Normaliser,
  isValidMailboxUser,
  measureMessageFile,
  uidlFor,
} from '../src/maildir/index';
import { listMessages, makeMaildir, makeTempDir, removeDir } from '@pop3-iac/test-kit';

/** Collects what a mailbox writes; optionally slow, to exercise backpressure. */
class Collector extends Writable {
  chunks: Buffer[] = [];
  maxChunk = 0;
  constructor(private readonly delayMs = 0) {
    super({ highWaterMark: 16 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    this.chunks.push(chunk);
    this.maxChunk = Math.max(this.maxChunk, chunk.length);
    if (this.delayMs > 0) setTimeout(cb, this.delayMs);
    else cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

async function fetch(mb: Mailbox, i: number, bodyLines?: number): Promise<string> {
  const out = new Collector();
  await mb.write(i, out, { bodyLines });
  return out.text();
}

describe('maildir store', () => {
  let dir: string;
  let root: string;
  let store: MaildirStore;
  const opened: Mailbox[] = [];
  beforeEach(async () => {
    dir = await makeTempDir('maildir-test-');
    root = path.join(dir, 'mail');
    await fsp.mkdir(root);
    store = new MaildirStore({ root });
  });
  afterEach(async () => {
    for (const mb of opened.splice(0)) mb.release();
    await removeDir(dir);
  });
  const open = async (user: string): Promise<Mailbox> => {
    const mb = await store.open(user);
    opened.push(mb);
    return mb;
  };

  it('orders by delivery time then name, moves new/ to cur/, ignores dotfiles, tmp/ and directories', async () => {
    const { dir: md } = await makeMaildir(root, 'u', [
      { content: 'c\r\n', name: '1700000300.C.host:2,S' },
      { content: 'a\r\n', name: '1700000100.A.host', folder: 'new' },
      { content: 'b2\r\n', name: '1700000200.B2.host:2,' },
      { content: 'b1\r\n', name: '1700000200.B1.host:2,' },
      { content: 'x\r\n', name: '.hidden', folder: 'new' },
      { content: 'y\r\n', name: '.dovecot-uidlist' },
    ]);
    await fsp.writeFile(path.join(md, 'tmp', '1700000000.T.host'), 'tmp\r\n');
    await fsp.mkdir(path.join(md, 'cur', '1700000000.D.host:2,'));
    const mb = await open('u');
    assert.deepEqual(
      mb.messages.map((m) => m.uid),
      ['1700000100.A.host', '1700000200.B1.host', '1700000200.B2.host', '1700000300.C.host'],
    );
    assert.deepEqual(await listMessages(md), [
      'cur/1700000000.D.host:2,',
      'cur/1700000100.A.host:2,',
      'cur/1700000200.B1.host:2,',
      'cur/1700000200.B2.host:2,',
      'cur/1700000300.C.host:2,S',
    ]);
    assert.deepEqual(await fsp.readdir(path.join(md, 'new')), ['.hidden']);
    assert.deepEqual(await fsp.readdir(path.join(md, 'tmp')), ['1700000000.T.host']);
    assert.equal(await fetch(mb, 0), 'a\r\n');
  });

  it('never overwrites a cur/ file when moving new/ (serves it from new/)', async () => {
    const { dir: md } = await makeMaildir(root, 'u', [
      { content: 'old\r\n', name: '1700000000.X.host:2,' },
      { content: 'new\r\n', name: '1700000000.X.host', folder: 'new' },
    ]);
    const mb = await open('u');
    assert.equal(mb.messages.length, 2);
    assert.equal(await fsp.readFile(path.join(md, 'cur', '1700000000.X.host:2,'), 'utf8'), 'old\r\n');
    // One unique name twice: the UIDLs still differ.
    assert.notEqual(mb.messages[0]!.uid, mb.messages[1]!.uid);
    assert.deepEqual([await fetch(mb, 0), await fetch(mb, 1)].sort(), ['new\r\n', 'old\r\n']);
  });

  it('creates a missing Maildir with mode 0700 and rejects unsafe user names before touching the file system', async () => {
    const mb = await open('newuser');
    assert.equal(mb.messages.length, 0);
    for (const sub of ['', '/cur', '/new', '/tmp']) {
      const st = await fsp.stat(path.join(root, 'newuser', 'Maildir' + sub));
      assert.equal(st.mode & 0o777, 0o700);
    }
    for (const bad of ['', '.', '..', 'a/b', '../etc', 'a\0b', 'a\nb', 'x'.repeat(256)]) {
      assert.equal(isValidMailboxUser(bad), false, JSON.stringify(bad));
      await assert.rejects(store.open(bad), InvalidMailboxUserError);
    }
    assert.deepEqual(await fsp.readdir(root), ['newuser']);
  });

  it('reports a missing Maildir root as temporary trouble', async () => {
    const s = new MaildirStore({ root: path.join(dir, 'absent') });
    await assert.rejects(s.open('u'), MailboxUnavailableError);
    await assert.rejects(s.open('u'), MailboxUnavailableError); // the lock was released
  });

  it('locks a mailbox for one session and releases it', async () => {
    await makeMaildir(root, 'u', ['m\r\n']);
    const mb = await store.open('u');
    await assert.rejects(store.open('u'), MailboxInUseError);
    // Another store over the same root shares the lock (one process, one lock).
    await assert.rejects(new MaildirStore({ root }).open('u'), (err: unknown) => {
      return err instanceof MailboxInUseError && err.code === 'MAILBOX_IN_USE' && err.respCode === 'IN-USE';
    });
    mb.release();
    mb.release();
    const again = await open('u');
    assert.equal(again.messages.length, 1);
  });

  it('octet counts are right for bare-LF files, and W= is trusted', async () => {
    await makeMaildir(root, 'u', [
      { content: 'a\nb\n', name: '1.a:2,' },
      { content: 'a\r\nb\r\n', name: '2.b:2,' },
      { content: 'a\nb', name: '3.c:2,' },
      { content: 'anything', name: '4.d,S=8,W=1234:2,' },
      { content: 'x\r\r\ny\r', name: '5.e:2,' },
      { content: '', name: '6.f:2,' },
      // A name that understates its file: the whole file is still sent (the small-message path gives way).
      { content: 'z'.repeat(200) + '\n', name: '7.g,W=3:2,' },
    ]);
    const mb = await open('u');
    assert.deepEqual(
      mb.messages.map((m) => m.size),
      [6, 6, 6, 1234, 7, 0, 3],
    );
    assert.equal(mb.totalSize, 6 + 6 + 6 + 1234 + 7 + 3);
    assert.equal(await fetch(mb, 6), 'z'.repeat(200) + '\r\n');
    assert.equal(await fetch(mb, 0), 'a\r\nb\r\n');
    assert.equal(await fetch(mb, 2), 'a\r\nb\r\n');
    assert.equal(await fetch(mb, 4), 'x\r\r\ny\r\n');
    assert.equal(await fetch(mb, 5), '');
  });

  it('a first login to 1,000 new messages moves and measures them all (in worker threads), as a restart re-measures them', async () => {
    // Contents of varied lengths and line endings, so that a size landing on the wrong message would show.
    const specs = Array.from({ length: 1000 }, (_, i) => ({
      content: `Subject: ${i}\n\n` + (i % 3 === 0 ? 'crlf\r\n' : 'lf\n').repeat(i % 17) + '.dot' + 'x'.repeat(i % 5),
      name: `${1700000000 + i}.M${i}.host`,
      dir: 'new' as const,
    }));
    const expected = specs.map((s) => {
      let crlf = s.content.replace(/\r?\n/g, '\r\n');
      if (!crlf.endsWith('\r\n')) crlf += '\r\n';
      return crlf;
    });
    const { dir: md } = await makeMaildir(root, 'u', specs);
    const mb = await store.open('u');
    assert.deepEqual(
      mb.messages.map((m) => m.size),
      expected.map((e) => e.length),
    );
    assert.equal(mb.messages[999]!.uid, '1700000999.M999.host');
    assert.deepEqual(await fsp.readdir(path.join(md, 'new')), []);
    assert.equal((await fsp.readdir(path.join(md, 'cur'))).length, 1000);
    assert.equal(await fetch(mb, 998), expected[998]!.replace(/^\./gm, '..'));
    mb.release();
    // A new process knows no sizes: every file in cur/ is measured again, with the same result.
    const restarted = new MaildirStore({ root });
    const again = await restarted.open('u');
    opened.push(again);
    assert.deepEqual(
      again.messages.map((m) => m.size),
      expected.map((e) => e.length),
    );
  });

  it('a login sees every change another process made since the last one, however soon after it', async () => {
    const { dir: md } = await makeMaildir(root, 'u', [
      { content: 'a\r\n', name: '1700000001.A.host', folder: 'new' },
      { content: 'b\r\n', name: '1700000002.B.host', folder: 'new' },
    ]);
    const uids = async (): Promise<string[]> => {
      const mb = await store.open('u');
      try {
        for (let i = 0; i < mb.messages.length; i++) await fetch(mb, i); // every file listed can be read
        return mb.messages.map((m) => m.uid);
      } finally {
        mb.release();
      }
    };
    const changes: Array<[string, () => Promise<unknown>, string[]]> = [
      ['nothing', async () => undefined, ['1700000001.A.host', '1700000002.B.host']],
      [
        'a delivery into new/',
        () => fsp.writeFile(path.join(md, 'new', '1700000003.C.host'), 'c\r\n'),
        ['1700000001.A.host', '1700000002.B.host', '1700000003.C.host'],
      ],
      [
        'a file put straight into cur/',
        () => fsp.writeFile(path.join(md, 'cur', '1700000004.D.host:2,'), 'd\r\n'),
        ['1700000001.A.host', '1700000002.B.host', '1700000003.C.host', '1700000004.D.host'],
      ],
      [
        'a removal by another reader',
        () => fsp.rm(path.join(md, 'cur', '1700000002.B.host:2,')),
        ['1700000001.A.host', '1700000003.C.host', '1700000004.D.host'],
      ],
      [
        'a flag change (rename in cur/)',
        () => fsp.rename(path.join(md, 'cur', '1700000001.A.host:2,'), path.join(md, 'cur', '1700000001.A.host:2,S')),
        ['1700000001.A.host', '1700000003.C.host', '1700000004.D.host'],
      ],
      [
        'a directory in cur/',
        () => fsp.mkdir(path.join(md, 'cur', 'sub')),
        ['1700000001.A.host', '1700000003.C.host', '1700000004.D.host'],
      ],
    ];
    // Each change lands within the same second as the previous login (the listing is not trusted yet), then again
    // after more than a second (trusted on the directories' mtimes).
    for (const [what, change, expected] of changes) {
      await uids();
      await change();
      assert.deepEqual(await uids(), expected, `right after a login: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await uids()).length, 3);
    await uids(); // now trusted on its stamp
    await fsp.writeFile(path.join(md, 'cur', '1700000005.E.host:2,'), 'e\r\n');
    assert.deepEqual((await uids()).at(-1), '1700000005.E.host', 'a file put into cur/ after the listing was trusted');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await uids();
    await fsp.rm(path.join(md, 'cur', '1700000003.C.host:2,'));
    assert.deepEqual(await uids(), ['1700000001.A.host', '1700000004.D.host', '1700000005.E.host']);
  });

  it('caches computed sizes by unique name (no re-read at the next login)', async () => {
    const { files } = await makeMaildir(root, 'u', ['abc\n']);
    const mb = await store.open('u');
    assert.equal(mb.messages[0]!.size, 5);
    mb.release();
    // Maildir files never change content; a changed file is not re-measured.
    await fsp.writeFile(files[0]!, 'abcdefgh\n');
    const again = await open('u');
    assert.equal(again.messages[0]!.size, 5);
  });

  it('derives UIDLs from the unique name, hashing names RFC 1939 does not allow', () => {
    assert.equal(uidlFor('1700000000.M1P2.host,S=10,W=12'), '1700000000.M1P2.host,S=10,W=12');
    const long = 'a'.repeat(71);
    assert.match(uidlFor(long), /^[0-9a-f]{40}$/);
    assert.equal(uidlFor(long), uidlFor(long));
    assert.match(uidlFor('with space'), /^[0-9a-f]{40}$/);
    assert.match(uidlFor('caf\u00e9'), /^[0-9a-f]{40}$/);
    assert.equal(uidlFor('a'.repeat(70)), 'a'.repeat(70));
  });

  it('TOP n 0 returns only the header', async () => {
    await makeMaildir(root, 'u', [
      'H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n',
      'H: 1\n\nb1\n.b2\nb3\n',
      'H: only\r\n',
      '\r\nbody right away\r\n',
    ]);
    const mb = await open('u');
    assert.equal(await fetch(mb, 0, 0), 'H: 1\r\nH: 2\r\n\r\n');
    assert.equal(await fetch(mb, 0, 2), 'H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n');
    assert.equal(await fetch(mb, 0, 99), 'H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n');
    assert.equal(await fetch(mb, 1, 0), 'H: 1\r\n\r\n');
    assert.equal(await fetch(mb, 1, 2), 'H: 1\r\n\r\nb1\r\n..b2\r\n');
    assert.equal(await fetch(mb, 2, 0), 'H: only\r\n');
    assert.equal(await fetch(mb, 3, 0), '\r\n');
  });

  it('TOP of a message bigger than one read: the head alone, or as many lines as asked past the first read', async () => {
    // About 300 KB: the first read (64 KiB) holds the header but not 5,000 body lines.
    const bodyLine = (i: number): string => `${i} ${'b'.repeat(50)}`;
    const body = Array.from({ length: 5000 }, (_, i) => bodyLine(i) + '\n').join('');
    await makeMaildir(root, 'u', ['Subject: big\n\n' + body]);
    const mb = await open('u');
    assert.equal(await fetch(mb, 0, 0), 'Subject: big\r\n\r\n');
    assert.equal(await fetch(mb, 0, 1), 'Subject: big\r\n\r\n' + bodyLine(0) + '\r\n');
    const top = await fetch(mb, 0, 4000);
    const lines = top.split('\r\n');
    assert.equal(lines.length, 2 + 4000 + 1);
    assert.equal(lines[4001], bodyLine(3999));
    assert.equal(lines[4002], '');
  });

  it('streams a 20 MB message in bounded chunks, respecting backpressure', async () => {
    const line = '.' + 'x'.repeat(98) + '\n'; // bare LF and a dot on every line
    const lines = 200_000; // 20 MB
    const { files } = await makeMaildir(root, 'u', ['Subject: big\n\n']);
    const fh = await fsp.open(files[0]!, 'a');
    const block = line.repeat(1000);
    for (let i = 0; i < lines / 1000; i++) await fh.write(block);
    await fh.close();
    const mb = await open('u');
    const expected = 'Subject: big\r\n\r\n'.length + lines * (line.length + 1);
    assert.equal(mb.messages[0]!.size, expected);
    let bytes = 0;
    let maxChunk = 0;
    let maxBuffered = 0;
    const out = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        maxChunk = Math.max(maxChunk, chunk.length);
        maxBuffered = Math.max(maxBuffered, out.writableLength);
        setImmediate(cb);
      },
    });
    await mb.write(0, out);
    assert.equal(bytes, expected + lines); // plus one stuffed dot per line
    assert.ok(maxChunk <= 2 * 256 * 1024 + 4, `largest chunk ${maxChunk}`);
    assert.ok(maxBuffered <= 4 * 256 * 1024, `buffered up to ${maxBuffered}`);
  });

  it('rejects when the output closes midway, and when the file is gone before anything is sent', async () => {
    const { files } = await makeMaildir(root, 'u', ['x'.repeat(1_000_000), 'y\r\n']);
    const mb = await open('u');
    const out = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, _cb) {
        setImmediate(() => out.destroy());
      },
    });
    await assert.rejects(mb.write(0, out), { code: 'SINK_CLOSED' });
    await fsp.rm(files[1]!);
    await assert.rejects(mb.write(1, new Collector()), MessageUnavailableError);
  });

  it('expunge unlinks, counts a missing file as removed, and reports what it could not remove', async () => {
    const { dir: md, files } = await makeMaildir(root, 'u', ['a\r\n', 'b\r\n', 'c\r\n', 'd\r\n']);
    const mb = await open('u');
    await fsp.rm(files[1]!);
    await fsp.rm(files[2]!);
    await fsp.mkdir(files[2]!);
    await fsp.writeFile(path.join(files[2]!, 'x'), 'x');
    assert.deepEqual(await mb.expunge([0, 1, 2]), { failed: 1 });
    assert.deepEqual(await listMessages(md), ['cur/' + path.basename(files[2]!), 'cur/' + path.basename(files[3]!)]);
  });

  it('measures exactly what RETR sends before dot-stuffing (random contents)', async () => {
    const alphabet = ['a', '.', '\r', '\n', '\r\n', '..', ' '];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      let content = '';
      const len = rand(60);
      for (let i = 0; i < len; i++) content += alphabet[rand(alphabet.length)];
      const file = path.join(dir, `r${round}`);
      await fsp.writeFile(file, content, 'latin1');
      const size = await measureMessageFile(file);
      // Reference: CRLF-normalise (lone CR stays), add a final CRLF, dot-stuff.
      let ref = content.replace(/\r?\n/g, '\r\n');
      if (ref.endsWith('\r') && !ref.endsWith('\r\n')) ref += '\n';
      else if (ref !== '' && !ref.endsWith('\r\n')) ref += '\r\n';
      assert.equal(size, Buffer.byteLength(ref, 'latin1'), JSON.stringify(content));
      const stuffed = ref.replace(/(^|\r\n)\./g, '$1..');
      // Feed the normaliser in 1-3 byte pieces to cross every chunk boundary.
      const norm = new Normaliser({ dotStuff: true });
      const pieces: Buffer[] = [];
      const bytes = Buffer.from(content, 'latin1');
      for (let i = 0; i < bytes.length;) {
        const n = 1 + rand(3);
        norm.push(bytes.subarray(i, i + n), pieces);
        i += n;
      }
      norm.finish(pieces);
      assert.equal(Buffer.concat(pieces).toString('latin1'), stuffed, JSON.stringify(content));
    }
  });
});
