/**
 * The POP3 session over real sockets, against real Maildir files: RFC 1939
 * commands, exact wire lines, and the regression tests named after the
 * defects they guard.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Harness, startHarness } from './support/harness';
import { listMessages, makeMaildir } from '@pop3-iac/test-kit';

const MSG1 = 'From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n';
const MSG2 = 'From: b@example.org\r\nSubject: two\r\n\r\nLine 1\r\nLine 2\r\nLine 3\r\n';
const MSG3 = 'Subject: three\r\n\r\nbye\r\n';

describe('pop3 session', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('greets, lists capabilities on loopback, and logs in with USER/PASS', async () => {
    await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const c = await h.connect();
    const capa = await c.multi('CAPA');
    assert.equal(capa.status, '+OK Capability list follows');
    assert.deepEqual(capa.lines, [
      'TOP',
      'USER',
      'UIDL',
      'PIPELINING',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'SASL PLAIN',
      'IMPLEMENTATION pop3d',
    ]);
    assert.equal(await c.command('USER alice'), '+OK');
    assert.equal(
      await c.command('PASS alice-secret'),
      `+OK Logged in, 2 messages (${MSG1.length + MSG2.length} octets)`,
    );
    assert.equal(await c.command('STAT'), `+OK 2 ${MSG1.length + MSG2.length}`);
    assert.equal(await c.command('NOOP'), '+OK');
    assert.equal(await c.command('QUIT'), '+OK Logging out (0 deleted)');
    await c.waitClosed();
  });

  it('answers LIST, UIDL, RETR and TOP exactly', async () => {
    const { files } = await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const c = await h.login('alice', 'alice-secret');
    const list = await c.multi('LIST');
    assert.equal(list.status, `+OK 2 messages (${MSG1.length + MSG2.length} octets)`);
    assert.deepEqual(list.lines, [`1 ${MSG1.length}`, `2 ${MSG2.length}`]);
    assert.equal(await c.command('LIST 2'), `+OK 2 ${MSG2.length}`);
    const uidl = await c.multi('UIDL');
    const uid1 = path.basename(files[0]!).split(':')[0]!;
    const uid2 = path.basename(files[1]!).split(':')[0]!;
    assert.equal(uidl.status, '+OK');
    assert.deepEqual(uidl.lines, [`1 ${uid1}`, `2 ${uid2}`]);
    assert.equal(await c.command('UIDL 1'), `+OK 1 ${uid1}`);

    const retr = await c.multi('RETR 2');
    assert.equal(retr.status, `+OK ${MSG2.length} octets`);
    assert.equal(retr.lines.join('\r\n') + '\r\n', MSG2);

    const top = await c.multi('TOP 2 2');
    assert.equal(top.status, '+OK Top of message follows');
    assert.deepEqual(top.lines, ['From: b@example.org', 'Subject: two', '', 'Line 1', 'Line 2']);
    const all = await c.multi('TOP 2 100');
    assert.equal(all.lines.join('\r\n') + '\r\n', MSG2);
    assert.equal(await c.command('RETR 3'), '-ERR No such message');
    assert.equal(await c.command('RETR 0'), '-ERR No such message');
    assert.equal(await c.command('QUIT'), '+OK Logging out (0 deleted)');
  });

  it('TOP n 0 returns only the header', async () => {
    await makeMaildir(h.root, 'alice', [MSG2, 'Subject: lf\n\nbody\n', 'Subject: no body at all\r\n']);
    const c = await h.login('alice', 'alice-secret');
    const top = await c.multi('TOP 1 0');
    assert.deepEqual(top.lines, ['From: b@example.org', 'Subject: two', '']);
    c.send('TOP 2 0');
    assert.equal(await c.readLine(), '+OK Top of message follows');
    // Exactly: the header, the blank line, the terminator; nothing of the body.
    assert.equal(await c.readRawBody(), 'Subject: lf\r\n\r\n.\r\n');
    // A message with no blank line: all of it is header.
    assert.deepEqual((await c.multi('TOP 3 0')).lines, ['Subject: no body at all']);
  });

  it('message numbers do not shift after DELE', async () => {
    await makeMaildir(h.root, 'alice', [MSG1, MSG2, MSG3]);
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('DELE 1'), '+OK Message 1 deleted');
    assert.equal(await c.command('STAT'), `+OK 2 ${MSG2.length + MSG3.length}`);
    const list = await c.multi('LIST');
    assert.equal(list.status, `+OK 2 messages (${MSG2.length + MSG3.length} octets)`);
    assert.deepEqual(list.lines, [`2 ${MSG2.length}`, `3 ${MSG3.length}`]);
    const uidl = await c.multi('UIDL');
    assert.deepEqual(
      uidl.lines.map((l) => l.split(' ')[0]),
      ['2', '3'],
    );
    const retr = await c.multi('RETR 3');
    assert.equal(retr.lines.join('\r\n') + '\r\n', MSG3);
    assert.equal(await c.command('RETR 1'), '-ERR Message 1 already deleted');
    assert.equal(await c.command('DELE 1'), '-ERR Message 1 already deleted');
    assert.equal(await c.command('TOP 1 0'), '-ERR Message 1 already deleted');
    assert.equal(await c.command('UIDL 1'), '-ERR Message 1 already deleted');
  });

  it('LIST n for a deleted message is -ERR', async () => {
    await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('DELE 2'), '+OK Message 2 deleted');
    assert.equal(await c.command('LIST 2'), '-ERR Message 2 already deleted');
    assert.equal(await c.command('LIST 1'), `+OK 1 ${MSG1.length}`);
  });

  it('RSET unmarks deleted messages and QUIT deletes only what is marked', async () => {
    const { dir } = await makeMaildir(h.root, 'alice', [MSG1, MSG2, MSG3]);
    const before = await listMessages(dir);
    const c = await h.login('alice', 'alice-secret');
    await c.command('DELE 1');
    await c.command('DELE 2');
    const total = MSG1.length + MSG2.length + MSG3.length;
    assert.equal(await c.command('RSET'), `+OK Maildrop has 3 messages (${total} octets)`);
    assert.equal(await c.command('STAT'), `+OK 3 ${total}`);
    assert.equal(await c.command('DELE 2'), '+OK Message 2 deleted');
    assert.equal(await c.command('QUIT'), '+OK Logging out (1 deleted)');
    await c.waitClosed();
    assert.deepEqual(await listMessages(dir), [before[0], before[2]]);
    const quit = h.logs.find((l) => l.event === 'session.quit');
    assert.equal(quit?.deleted, 1);
  });

  it('QUIT answers -ERR when a deletion fails', async () => {
    const { dir, files } = await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('DELE 1'), '+OK Message 1 deleted');
    assert.equal(await c.command('DELE 2'), '+OK Message 2 deleted');
    // Root ignores permissions, so make message 1 undeletable another way: a
    // non-empty directory of the same name (unlink fails with EISDIR).
    await fsp.rm(files[0]!);
    await fsp.mkdir(files[0]!);
    await fsp.writeFile(path.join(files[0]!, 'keep'), 'x');
    assert.equal(await c.command('QUIT'), '-ERR Some deleted messages not removed');
    await c.waitClosed();
    // Message 2 went; the failure is reported, not hidden.
    assert.deepEqual(await listMessages(dir), ['cur/' + path.basename(files[0]!)]);
    const quit = h.logs.find((l) => l.event === 'session.quit');
    assert.equal(quit?.failed, 1);
  });

  it('a dropped connection deletes nothing', async () => {
    const { dir } = await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const before = await listMessages(dir);
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('DELE 1'), '+OK Message 1 deleted');
    assert.equal(await c.command('DELE 2'), '+OK Message 2 deleted');
    c.close();
    await h.idle();
    assert.deepEqual(await listMessages(dir), before);
    // And the lock is released: a new session gets in.
    const c2 = await h.login('alice', 'alice-secret');
    assert.equal(await c2.command('STAT'), `+OK 2 ${MSG1.length + MSG2.length}`);
  });

  it('octet counts are right for bare-LF files', async () => {
    const bare = 'Subject: lf\n\nline one\nline two\n';
    const noFinalNewline = 'Subject: x\r\n\r\nno newline at the end';
    await makeMaildir(h.root, 'alice', [bare, noFinalNewline]);
    const c = await h.login('alice', 'alice-secret');
    const crlf = bare.replace(/\n/g, '\r\n');
    const fixed = noFinalNewline + '\r\n';
    assert.deepEqual((await c.multi('LIST')).lines, [`1 ${crlf.length}`, `2 ${fixed.length}`]);
    assert.equal(await c.command('STAT'), `+OK 2 ${crlf.length + fixed.length}`);
    c.send('RETR 1');
    assert.equal(await c.readLine(), `+OK ${crlf.length} octets`);
    assert.equal(await c.readRawBody(), crlf + '.\r\n');
    // A last line without a newline gets CRLF before the terminator.
    c.send('RETR 2');
    assert.equal(await c.readLine(), `+OK ${fixed.length} octets`);
    assert.equal(await c.readRawBody(), fixed + '.\r\n');
  });

  it("lines starting with '.' are dot-stuffed", async () => {
    const msg = 'Subject: dots\r\n\r\n.\r\n..two\r\n.x\r\nnot.first\r\n.';
    await makeMaildir(h.root, 'alice', [msg]);
    const c = await h.login('alice', 'alice-secret');
    const size = msg.length + 2;
    assert.equal(await c.command('LIST 1'), `+OK 1 ${size}`);
    c.send('RETR 1');
    assert.equal(await c.readLine(), `+OK ${size} octets`);
    assert.equal(await c.readRawBody(), 'Subject: dots\r\n\r\n..\r\n...two\r\n..x\r\nnot.first\r\n..\r\n.\r\n');
  });

  it('second session on a locked mailbox gets [IN-USE]', async () => {
    await makeMaildir(h.root, 'alice', [MSG1]);
    const first = await h.login('alice', 'alice-secret');
    const second = await h.connect();
    assert.equal(await second.command('USER alice'), '+OK');
    assert.equal(await second.command('PASS alice-secret'), '-ERR [IN-USE] Mailbox is locked by another session');
    // Still in AUTHORIZATION: may try again once the lock is free.
    assert.equal(await first.command('QUIT'), '+OK Logging out (0 deleted)');
    await first.waitClosed();
    assert.match((await second.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('UIDLs stable across sessions', async () => {
    await makeMaildir(h.root, 'alice', [
      { content: MSG1, folder: 'new', name: '1700000001.M1P1.host' },
      { content: MSG2, name: '1700000000.M1P1.host,S=1,W=' + MSG2.length + ':2,S' },
      { content: MSG3, name: 'x'.repeat(80) + ':2,' },
    ]);
    const c1 = await h.login('alice', 'alice-secret');
    const first = (await c1.multi('UIDL')).lines;
    await c1.command('QUIT');
    await c1.waitClosed();
    assert.equal(first[0], `1 1700000000.M1P1.host,S=1,W=${MSG2.length}`);
    assert.equal(first[1], '2 1700000001.M1P1.host');
    assert.match(first[2]!, /^3 [0-9a-f]{40}$/); // too long for RFC 1939: a hash of the name
    const c2 = await h.login('alice', 'alice-secret');
    assert.deepEqual((await c2.multi('UIDL')).lines, first);
  });

  it('answers many commands in one TCP segment, in order (PIPELINING)', async () => {
    await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const c = await h.connect();
    c.writeRaw('USER alice\r\nPASS alice-secret\r\nSTAT\r\nRETR 1\r\nLIST\r\nNOOP\r\nTOP 2 0\r\nDELE 1\r\nSTAT\r\n');
    assert.equal(await c.readLine(), '+OK');
    assert.match(await c.readLine(), /^\+OK Logged in, 2 messages/);
    assert.equal(await c.readLine(), `+OK 2 ${MSG1.length + MSG2.length}`);
    assert.equal(await c.readLine(), `+OK ${MSG1.length} octets`);
    assert.equal((await c.readMultiline()).join('\r\n') + '\r\n', MSG1);
    assert.match(await c.readLine(), /^\+OK 2 messages/);
    assert.equal((await c.readMultiline()).length, 2);
    assert.equal(await c.readLine(), '+OK');
    assert.equal(await c.readLine(), '+OK Top of message follows');
    assert.deepEqual(await c.readMultiline(), ['From: b@example.org', 'Subject: two', '']);
    assert.equal(await c.readLine(), '+OK Message 1 deleted');
    assert.equal(await c.readLine(), `+OK 1 ${MSG2.length}`);
  });

  it('answers a long pipelined burst and half-close in order', async () => {
    await makeMaildir(h.root, 'alice', [MSG1]);
    const c = await h.connect();
    let burst = 'USER alice\r\nPASS alice-secret\r\n';
    for (let i = 0; i < 2000; i++) burst += i % 2 === 0 ? 'NOOP\r\n' : 'RETR 1\r\n';
    burst += 'QUIT\r\n';
    c.writeRaw(burst);
    c.socket.end(); // the client is done sending; every command is still answered
    await c.readLine();
    await c.readLine();
    for (let i = 0; i < 2000; i++) {
      if (i % 2 === 0) assert.equal(await c.readLine(), '+OK');
      else {
        assert.equal(await c.readLine(), `+OK ${MSG1.length} octets`);
        assert.equal((await c.readMultiline()).length, 4);
      }
    }
    assert.equal(await c.readLine(), '+OK Logging out (0 deleted)');
    await c.waitClosed();
  });

  it('accepts bare LF line endings and lower-case commands from clients', async () => {
    await makeMaildir(h.root, 'alice', [MSG1]);
    const c = await h.connect();
    c.writeRaw('user alice\npass alice-secret\nstat\n');
    assert.equal(await c.readLine(), '+OK');
    assert.match(await c.readLine(), /^\+OK Logged in/);
    assert.equal(await c.readLine(), `+OK 1 ${MSG1.length}`);
  });

  it('refuses commands in the wrong state, unknown commands and bad arguments', async () => {
    h.settings.limits = { ...h.settings.limits, maxBadCommands: 100 };
    await makeMaildir(h.root, 'alice', [MSG1]);
    const c = await h.connect();
    assert.equal(await c.command('STAT'), '-ERR Command not valid in this state');
    assert.equal(await c.command('APOP alice 0123456789abcdef'), '-ERR Unknown command');
    assert.equal(await c.command('PASS alice-secret'), '-ERR No USER given');
    assert.equal(await c.command('USER'), '-ERR Wrong number of arguments for USER');
    assert.equal(await c.command(''), '-ERR Unknown command');
    await c.login('alice', 'alice-secret');
    assert.equal(await c.command('USER alice'), '-ERR Command not valid in this state');
    assert.equal(await c.command('LIST 1 2'), '-ERR Wrong number of arguments for LIST');
    assert.equal(await c.command('RETR x'), '-ERR Invalid message number');
    assert.equal(await c.command('RETR -1'), '-ERR Invalid message number');
    assert.equal(await c.command('TOP 1 -1'), '-ERR Invalid number of lines');
    assert.equal(await c.command('STLS'), '-ERR Command not valid in this state');
  });

  it('NUL and 8-bit bytes in commands get -ERR, never a crash', async () => {
    await makeMaildir(h.root, 'alice', [MSG1]);
    const c = await h.connect();
    c.writeRaw(Buffer.from('NO\x00OP\r\n', 'latin1'));
    assert.equal(await c.readLine(), '-ERR Invalid characters in command');
    c.writeRaw(Buffer.from('US\xc3\xa9R alice\r\n', 'latin1'));
    assert.equal(await c.readLine(), '-ERR Invalid characters in command');
    c.writeRaw(Buffer.from('USER al\x00ice\r\n', 'latin1'));
    assert.equal(await c.readLine(), '-ERR Invalid characters in command');
    c.writeRaw(Buffer.from('USER alice\r\nPASS a\x00b\r\n', 'latin1'));
    assert.equal(await c.readLine(), '+OK');
    assert.equal(await c.readLine(), '-ERR Invalid characters in command');
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('too many bad commands disconnects', async () => {
    h.settings.limits = { ...h.settings.limits, maxBadCommands: 3 };
    const c = await h.connect();
    for (let i = 0; i < 3; i++) assert.equal(await c.command('BOGUS'), '-ERR Unknown command');
    assert.equal(await c.command('BOGUS'), '-ERR Too many bad commands');
    await c.waitClosed();
  });

  it('unbounded command lines are refused and memory stays bounded', async () => {
    await makeMaildir(h.root, 'alice', [MSG1]);
    const c = await h.connect();
    // Exactly the limit (1024 octets with CRLF) is accepted; one more is not.
    assert.equal(await c.command('NOOP' + ' '.repeat(1018)), '-ERR Command not valid in this state');
    assert.equal(await c.command('NOOP' + ' '.repeat(1019)), '-ERR Line too long');
    // A 1 MB line, sent in pieces: one -ERR, the rest discarded, and heap growth stays small.
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const piece = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 16; i++) c.writeRaw(piece);
    c.writeRaw('\r\nUSER alice\r\n');
    assert.equal(await c.readLine(), '-ERR Line too long');
    assert.equal(await c.readLine(), '+OK');
    const session = [...h.sessions][0]!;
    // The reader holds no partial line: nothing of the 1 MB is buffered.
    assert.equal((session as unknown as { reader: { partialLength: number } }).reader.partialLength, 0);
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${grown} bytes`);
    assert.match((await c.command('PASS alice-secret')) ?? '', /^\+OK Logged in/);
  });

  it('idle timeout deletes nothing', async () => {
    const { dir } = await makeMaildir(h.root, 'alice', [MSG1, MSG2]);
    const before = await listMessages(dir);
    const c = await h.login('alice', 'alice-secret');
    h.settings.limits = { ...h.settings.limits, idleTimeoutSeconds: 0.3 };
    assert.equal(await c.command('DELE 1'), '+OK Message 1 deleted');
    assert.equal(await c.readLine(), '-ERR [SYS/TEMP] Autologout; idle for too long');
    await c.waitClosed();
    await h.idle();
    assert.deepEqual(await listMessages(dir), before);
    assert.ok(h.logs.some((l) => l.event === 'session.timeout'));
  });

  it('closes an idle unauthenticated connection after authTimeoutSeconds', async () => {
    h.settings.limits = { ...h.settings.limits, authTimeoutSeconds: 0.2 };
    const c = await h.connect();
    assert.equal(await c.readLine(), '-ERR [SYS/TEMP] Autologout; idle for too long');
    await c.waitClosed();
  });

  it('terminate() answers [SYS/TEMP] and deletes nothing', async () => {
    const { dir } = await makeMaildir(h.root, 'alice', [MSG1]);
    const before = await listMessages(dir);
    const c = await h.login('alice', 'alice-secret');
    assert.equal(await c.command('DELE 1'), '+OK Message 1 deleted');
    const session = [...h.sessions][0]!;
    assert.equal(session.state, 'TRANSACTION');
    assert.equal(session.user, 'alice');
    session.terminate('server shutting down');
    assert.equal(await c.readLine(), '-ERR [SYS/TEMP] server shutting down');
    await c.waitClosed();
    await h.idle();
    assert.equal(session.state, 'CLOSED');
    assert.deepEqual(await listMessages(dir), before);
  });

  it('failed logins are delayed, doubling, per address, and never log the password', async () => {
    h.settings.limits = { ...h.settings.limits, loginFailureDelayMs: 100, loginFailureDelayMaxMs: 250 };
    const c = await h.connect();
    const timed = async (): Promise<number> => {
      const t0 = Date.now();
      assert.equal(await c.login('alice', 'wrong-pass-XYZ'), '-ERR [AUTH] Authentication failed');
      return Date.now() - t0;
    };
    assert.ok((await timed()) >= 95);
    assert.ok((await timed()) >= 195);
    assert.ok((await timed()) >= 245); // capped at 250
    // Unknown users are answered the same way.
    assert.equal(await c.login('nobody', 'wrong-pass-XYZ'), '-ERR [AUTH] Authentication failed');
    // Another address is not delayed by these failures.
    assert.equal(h.throttle.failures('127.0.0.1'), 4);
    assert.equal(h.throttle.failures('192.0.2.1'), 0);
    assert.match((await c.login('alice', 'alice-secret')) ?? '', /^\+OK Logged in/);
    const text = h.logText();
    assert.ok(!text.includes('wrong-pass-XYZ'));
    assert.ok(!text.includes('alice-secret'));
    const failed = h.logs.filter((l) => l.event === 'login.failed');
    assert.equal(failed.length, 4);
    assert.equal(failed[0]!.user, 'alice');
    assert.equal(failed[3]!.reason, 'unknown-user');
    assert.ok(h.logs.some((l) => l.event === 'login.succeeded' && l.mechanism === 'USER' && l.user === 'alice'));
  });

  it('accepts passwords with spaces and UTF-8 in PASS', async () => {
    await h.close();
    h = await startHarness({ users: { carol: 'two words é' } });
    const c = await h.connect();
    assert.equal(await c.command('USER carol'), '+OK');
    c.writeRaw(Buffer.concat([Buffer.from('PASS '), Buffer.from('two words é', 'utf8'), Buffer.from('\r\n')]));
    assert.match(await c.readLine(), /^\+OK Logged in, 0 messages/);
  });

  it('moves new/ to cur/ at login and creates a missing Maildir', async () => {
    const { dir } = await makeMaildir(h.root, 'alice', [{ content: MSG1, folder: 'new', name: '1700000000.A.host' }]);
    const c = await h.login('alice', 'alice-secret');
    assert.deepEqual(await listMessages(dir), ['cur/1700000000.A.host:2,']);
    assert.equal(await c.command('STAT'), `+OK 1 ${MSG1.length}`);
    const b = await h.login('bob', 'bob-secret');
    assert.equal(await b.command('STAT'), '+OK 0 0');
    const st = await fsp.stat(path.join(h.root, 'bob', 'Maildir', 'cur'));
    assert.equal(st.mode & 0o777, 0o700);
  });

  it('LIST and UIDL of 10,000 messages go out as one write each', async () => {
    await h.close();
    let writes = 0;
    h = await startHarness({
      onSocket(socket) {
        const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
        socket.write = ((...a: unknown[]) => {
          writes++;
          return write(...a);
        }) as typeof socket.write;
      },
    });
    const md = path.join(h.root, 'alice', 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) await fsp.mkdir(path.join(md, sub), { recursive: true });
    const n = 10_000;
    for (let i = 0; i < n; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          fsp.writeFile(path.join(md, 'cur', `${1700000000 + i + j}.M${i + j}P1.host,S=4,W=5:2,`), 'abc\n'),
        ),
      );
    }
    const c = await h.login('alice', 'alice-secret');
    writes = 0;
    const list = await c.multi('LIST');
    assert.equal(list.lines.length, n);
    assert.equal(list.lines[n - 1], `${n} 5`);
    assert.equal(writes, 1);
    writes = 0;
    const uidl = await c.multi('UIDL');
    assert.equal(uidl.lines.length, n);
    assert.equal(uidl.lines[0], '1 1700000000.M0P1.host,S=4,W=5');
    assert.equal(writes, 1);
    assert.equal(await c.command('STAT'), `+OK ${n} ${5 * n}`);
  });
});
