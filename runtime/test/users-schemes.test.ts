/**
 * Password schemes from a passwd-file, hashed by `doveadm pw` as operators
 * make them, checked on the real crypt worker pool; and the mechanisms that
 * keep logins from telling which users exist or from costing unbounded
 * work: asserted on the jobs the crypt workers run, never on timings.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { argon2id } from 'hash-wasm';
import { CryptPool, MAX_PASSWORD_BYTES, PasswdFileDatabase, hashPassword } from '../src/users/index';
import { costOf, recording } from './support/crypt-jobs';
import { makeTempDir, removeDir } from '@pop3-iac/test-kit';

const doveadm = (scheme: string, password: string): string =>
  execFileSync('doveadm', ['pw', '-s', scheme, '-p', password], { encoding: 'utf8' }).trim();

describe('password schemes and login cost', () => {
  let dir: string;
  let pool: CryptPool;
  before(async () => {
    dir = await makeTempDir('users-schemes-');
    // One worker: the suite runs four files side by side on two cores; Argon2 at its defaults is ~1 s of CPU a check.
    pool = new CryptPool(1);
  });
  after(async () => {
    await pool.close();
    await removeDir(dir);
  });

  it('checks doveadm pw hashes of every scheme, with {SCHEME} and as bare crypt strings', async () => {
    const users: Array<[string, string, string]> = [];
    for (const scheme of ['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'ARGON2ID', 'ARGON2I', 'PLAIN', 'CRYPT']) {
      const pw = `p ${scheme} é`;
      users.push([scheme.toLowerCase(), doveadm(scheme, pw), pw]);
    }
    for (const scheme of ['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'ARGON2ID']) {
      const pw = `bare ${scheme}`;
      users.push([`bare-${scheme.toLowerCase()}`, doveadm(scheme, pw).replace(/^\{[^}]+\}/, ''), pw]);
    }
    // bcrypt's other version letters, as PHP (2y), OpenBSD (2b) and old libraries (2a) write them.
    const blf = doveadm('BLF-CRYPT', 'versions').replace(/^\{[^}]+\}/, '');
    users.push(
      ['blf-2a', blf.replace('$2y$', '$2a$'), 'versions'],
      ['blf-2b', blf.replace('$2y$', '$2b$'), 'versions'],
    );
    const file = path.join(dir, 'all');
    await fsp.writeFile(file, users.map(([u, h]) => `${u}:${h}\n`).join(''));
    const db = new PasswdFileDatabase(file, undefined, { crypt: pool });
    for (const [user, , pw] of users) {
      assert.deepEqual(await db.verify(user, pw), { ok: true, user }, user);
      assert.deepEqual(await db.verify(user, pw + '!'), { ok: false, reason: 'bad-password' }, user);
    }
  });

  it("an unknown user is checked at a cost class the users have, not at the first line's scheme", async () => {
    // First line PLAIN: the old dummy (first line's scheme) made unknown users cost no hashing at all.
    const cheapArgon = await argon2id({
      password: 'a-pw',
      salt: Buffer.from('0123456789abcdef'),
      iterations: 1,
      memorySize: 256,
      parallelism: 1,
      hashLength: 32,
      outputType: 'encoded',
    });
    const file = path.join(dir, 'mixed');
    await fsp.writeFile(
      file,
      [
        `plain:{PLAIN}p-pw`,
        `sha:${doveadm('SHA512-CRYPT', 's-pw')}`,
        `blf:${doveadm('BLF-CRYPT', 'b-pw')}`,
        `argon:{ARGON2ID}${cheapArgon}`,
      ].join('\n') + '\n',
    );
    const { runner, jobs } = recording(pool);
    const db = new PasswdFileDatabase(file, undefined, { crypt: runner });

    // A known user with a wrong password: one job at that user's cost.
    const known = new Set<string>();
    for (const user of ['sha', 'blf', 'argon']) {
      jobs.length = 0;
      assert.deepEqual(await db.verify(user, 'wrong'), { ok: false, reason: 'bad-password' });
      assert.equal(jobs.length, 1, user);
      known.add(costOf(jobs[0]!));
    }
    assert.equal(known.size, 3);

    const used = new Map<string, number>();
    for (let i = 0; i < 80; i++) {
      const name = `ghost-${i}`;
      jobs.length = 0;
      assert.deepEqual(await db.verify(name, 'wrong'), { ok: false, reason: 'unknown-user' });
      // At most one job (none: checked as a PLAIN user would be), and at a cost some real user has.
      assert.ok(jobs.length <= 1, name);
      const cost = jobs[0] === undefined ? 'PLAIN' : costOf(jobs[0]);
      assert.ok(cost === 'PLAIN' || known.has(cost), `${name}: ${cost}`);
      used.set(cost, (used.get(cost) ?? 0) + 1);
      // The same name costs the same every time (a stable pick, not a coin toss an attacker could average out).
      jobs.length = 0;
      await db.verify(name, 'other');
      assert.equal(jobs[0] === undefined ? 'PLAIN' : costOf(jobs[0]), cost, name);
    }
    // Each class users have is used for some unknown names (each has a 1/4 share: 80 misses are ~1e-10 likely).
    for (const cost of [...known, 'PLAIN']) assert.ok((used.get(cost) ?? 0) > 0, `${cost} never used: ${[...used]}`);
  });

  it(`a password over ${MAX_PASSWORD_BYTES} octets fails without any crypt job; one of ${MAX_PASSWORD_BYTES} is checked`, async () => {
    const longest = 'x'.repeat(MAX_PASSWORD_BYTES);
    const file = path.join(dir, 'long');
    // doveadm (libxcrypt) refuses to hash such long passwords: our SHA-crypt makes them.
    await fsp.writeFile(file, `u:${hashPassword(longest)}\nv:${hashPassword(longest + 'y')}\n`);
    const { runner, jobs } = recording(pool);
    const db = new PasswdFileDatabase(file, undefined, { crypt: runner });
    assert.deepEqual(await db.verify('u', longest), { ok: true, user: 'u' });
    assert.equal(jobs.length, 1);
    jobs.length = 0;
    assert.deepEqual(await db.verify('v', longest + 'y'), { ok: false, reason: 'password-too-long' });
    assert.deepEqual(await db.verify('u', Buffer.alloc(65_520, 0x61)), { ok: false, reason: 'password-too-long' });
    assert.deepEqual(await db.verify('ghost', Buffer.alloc(65_520, 0x61)), { ok: false, reason: 'password-too-long' });
    assert.equal(jobs.length, 0);
  });

  it('compares {PLAIN} passwords as bytes: invalid UTF-8 never collides', async () => {
    const file = path.join(dir, 'bytes');
    await fsp.writeFile(
      file,
      Buffer.concat([Buffer.from('u:{PLAIN}caf'), Buffer.from([0xe9]), Buffer.from('-secret\n')]),
    );
    const db = new PasswdFileDatabase(file, undefined, { crypt: pool });
    const pw = (byte: number): Buffer =>
      Buffer.concat([Buffer.from('caf'), Buffer.from([byte]), Buffer.from('-secret')]);
    assert.equal((await db.verify('u', pw(0xe9))).ok, true);
    for (const byte of [0xff, 0x80])
      assert.deepEqual(await db.verify('u', pw(byte)), { ok: false, reason: 'bad-password' });
    // The UTF-8 spelling of é is other bytes than the file holds.
    assert.equal((await db.verify('u', 'café-secret')).ok, false);
  });
});
