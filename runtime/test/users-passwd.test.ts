/**
 * The passwd-file user database, password hashing and addUser.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createLogger } from '../src/log';
import {
  CryptPool,
  InvalidCredentialError,
  PasswdFileDatabase,
  UserDatabaseUnavailableError,
  addUser,
  hashPassword,
  parseCredential,
  shaCrypt,
} from '../src/users/index';
import { makeTempDir, removeDir } from '@pop3-iac/test-kit';

const ssha = (alg: 'sha256' | 'sha512', pw: string, salt: Buffer): string =>
  Buffer.concat([createHash(alg).update(pw).update(salt).digest(), salt]).toString('base64');

describe('passwd-file users', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await makeTempDir('users-test-');
    file = path.join(dir, 'passwd');
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('verifies every supported scheme', async () => {
    const salt = Buffer.from('0123456789abcdef');
    await fsp.writeFile(
      file,
      [
        '# comment',
        '',
        'plain:{PLAIN}pw-plain:1000:1000::/home/plain::',
        'clear:{CLEARTEXT}pw-clear',
        'six:{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
        'five:{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
        'bare:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
        `s512:{SSHA512}${ssha('sha512', 'pw-s512', salt)}`,
        `s256:{ssha256}${ssha('sha256', 'pw-s256', salt)}`,
        `hex:{SSHA256.HEX}${Buffer.from(ssha('sha256', 'pw-hex', salt), 'base64').toString('hex')}`,
        `u512:{SHA512}${createHash('sha512').update('pw-u512').digest('base64')}`,
        'crlf:{PLAIN}pw-crlf\r',
        'weird:{MD5-CRYPT}$1$abc$def',
        'empty:',
        'plain:{PLAIN}second-line-ignored',
      ].join('\n'),
    );
    const lines: string[] = [];
    const db = new PasswdFileDatabase(file, createLogger({ write: (l: string) => lines.push(l) }));
    const ok: Array<[string, string]> = [
      ['plain', 'pw-plain'],
      ['clear', 'pw-clear'],
      ['six', 'Hello world!'],
      ['five', 'Hello world!'],
      ['bare', 'Hello world!'],
      ['s512', 'pw-s512'],
      ['s256', 'pw-s256'],
      ['hex', 'pw-hex'],
      ['u512', 'pw-u512'],
      ['crlf', 'pw-crlf'],
    ];
    for (const [user, pw] of ok) {
      assert.deepEqual(await db.verify(user, pw), { ok: true, user }, user);
      assert.deepEqual(await db.verify(user, pw + 'x'), { ok: false, reason: 'bad-password' }, user);
    }
    assert.deepEqual(await db.verify('plain', 'second-line-ignored'), { ok: false, reason: 'bad-password' });
    assert.deepEqual(await db.verify('weird', 'x'), { ok: false, reason: 'unusable-hash' });
    assert.deepEqual(await db.verify('empty', ''), { ok: false, reason: 'unusable-hash' });
    assert.deepEqual(await db.verify('nobody', 'x'), { ok: false, reason: 'unknown-user' });
    assert.deepEqual(await db.verify('PLAIN', 'pw-plain'), { ok: false, reason: 'unknown-user' });
    // Problems are logged by line number and user, never with the hash.
    const log = lines.join('');
    assert.ok(log.includes('passwd.hash_unusable') && log.includes('passwd.user_duplicate'));
    assert.ok(!log.includes('$1$abc') && !log.includes('second-line-ignored'));
  });

  it('re-reads the file when it changes, keeps the last good copy when it vanishes', async () => {
    await fsp.writeFile(file, 'a:{PLAIN}one\n');
    const db = new PasswdFileDatabase(file, undefined, { checkIntervalMs: 0 });
    assert.equal((await db.verify('a', 'one')).ok, true);
    await fsp.writeFile(file, 'a:{PLAIN}two\nb:{PLAIN}three\n');
    assert.equal((await db.verify('a', 'one')).ok, false);
    assert.equal((await db.verify('a', 'two')).ok, true);
    assert.equal((await db.verify('b', 'three')).ok, true);
    assert.equal(db.size, 2);
    await fsp.rm(file);
    assert.equal((await db.verify('a', 'two')).ok, true);
  });

  it('reports an unreadable file as unavailable', async () => {
    const db = new PasswdFileDatabase(path.join(dir, 'absent'));
    await assert.rejects(db.verify('a', 'b'), UserDatabaseUnavailableError);
  });

  it('hashPassword writes fields that verify, in every scheme', async () => {
    for (const scheme of ['SHA512-CRYPT', 'SHA256-CRYPT', 'SSHA512', 'SSHA256', 'PLAIN'] as const) {
      const field = hashPassword('pässword 1', scheme);
      assert.ok(field.startsWith(`{${scheme}}`), field);
      const cred = parseCredential(field)!;
      assert.equal(await cred.check(Buffer.from('pässword 1')), true, scheme);
      assert.equal(await cred.check(Buffer.from('password 1')), false, scheme);
    }
    assert.match(hashPassword('x'), /^\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    assert.notEqual(hashPassword('x'), hashPassword('x'));
    assert.throws(() => hashPassword('a:b', 'PLAIN'), InvalidCredentialError);
  });

  it('addUser appends and replaces atomically, mode 0600, keeping extra fields', async () => {
    await fsp.writeFile(file, '# users\nbob:{PLAIN}old:1000:1000::/home/bob::\n', { mode: 0o644 });
    assert.equal(await addUser(file, 'alice', 'a-pass'), 'added');
    assert.equal(await addUser(file, 'bob', 'b-pass'), 'replaced');
    const text = await fsp.readFile(file, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines[0], '# users');
    assert.match(lines[1]!, /^bob:\{SHA512-CRYPT\}\$6\$[^:]+:1000:1000::\/home\/bob::$/);
    assert.match(lines[2]!, /^alice:\{SHA512-CRYPT\}\$6\$/);
    assert.equal(lines[3], '');
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await fsp.readdir(dir), ['passwd']); // no temp file left
    const db = new PasswdFileDatabase(file, undefined, { checkIntervalMs: 0 });
    assert.equal((await db.verify('bob', 'b-pass')).ok, true);
    assert.equal((await db.verify('alice', 'a-pass')).ok, true);
    // Concurrent adds in one process do not lose each other.
    await Promise.all(['c1', 'c2', 'c3', 'c4'].map((n) => addUser(file, n, 'p-' + n, 'SSHA256')));
    for (const n of ['c1', 'c2', 'c3', 'c4']) assert.equal((await db.verify(n, 'p-' + n)).ok, true, n);
  });

  it('addUser creates a missing file and refuses names that cannot be stored', async () => {
    assert.equal(await addUser(file, 'new', 'pw', 'PLAIN'), 'added');
    assert.equal(await fsp.readFile(file, 'utf8'), 'new:{PLAIN}pw\n');
    for (const bad of ['', 'a:b', 'a b', 'a/b', '#x', '..', 'a\nb']) {
      await assert.rejects(addUser(file, bad, 'pw'), InvalidCredentialError, JSON.stringify(bad));
    }
    await assert.rejects(addUser(file, 'ok', ''), InvalidCredentialError);
  });

  it('checks SHA-crypt on worker threads without blocking the event loop', async () => {
    const pool = new CryptPool(2);
    try {
      const setting = '$6$rounds=50000$saltstring';
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const hash = shaCrypt('Hello world!', setting);
      const matches = await Promise.all([
        pool.run({ kind: 'sha-crypt', hash }, Buffer.from('Hello world!')),
        pool.run({ kind: 'sha-crypt', hash }, Buffer.from('x')),
      ]);
      clearInterval(timer);
      assert.deepEqual(matches, [true, false]);
      assert.ok(ticks > 5, `the event loop ran ${ticks} times meanwhile`);
      await fsp.writeFile(file, `a:${hashPassword('pw')}\n`);
      const db = new PasswdFileDatabase(file, undefined, { crypt: pool });
      assert.deepEqual(await db.verify('a', 'pw'), { ok: true, user: 'a' });
      assert.deepEqual(await db.verify('a', 'nope'), { ok: false, reason: 'bad-password' });
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.run({ kind: 'sha-crypt', hash: '$6$x' }, Buffer.from('x')), {
      code: 'CRYPT_WORKER_FAILED',
    });
  });
});
