/**
 * Users in PostgreSQL (--userdb): a real PostgreSQL cluster started by the
 * test on a Unix socket, a PostfixAdmin-style `mailbox` table with hashes
 * made by `doveadm pw` as operators make them, a real pop3d, and Python's
 * poplib and our wire client logging in.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CryptPool, PostgresUserDatabase } from '../src/users/index';
import { costOf, recording } from './support/crypt-jobs';
import {
  POP3D_BIN,
  freePort,
  startReadyDaemon,
  type Daemon,
  type PostgresCluster,
  startPostgres,
  login,
} from '@pop3-iac/test-kit';

/** A hash as `doveadm pw` prints it (`{SCHEME}…`). */
const doveadm = (scheme: string, password: string): string =>
  execFileSync('doveadm', ['pw', '-s', scheme, '-p', password], { encoding: 'utf8' }).trim();

/** Logs in with Python's poplib; prints "+OK <count>" or the server's error. */
const POPLIB = `
import poplib, sys
c = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
try:
    c.user(sys.argv[2])
    c.pass_(sys.argv[3])
    print('+OK', c.stat()[0])
    c.quit()
except poplib.error_proto as e:
    print(e.args[0].decode('latin1'))
`;

function poplibLogin(port: number, user: string, password: string): string {
  return execFileSync('python3', ['-c', POPLIB, String(port), user, password], { encoding: 'utf8' }).trim();
}

const QUERY = 'SELECT password, maildir FROM mailbox WHERE username = $1 AND active';

describe('users in PostgreSQL (--userdb)', () => {
  let pg: PostgresCluster;
  let daemon: Daemon;
  let dir: string;
  let port: number;
  let userdbFile: string;
  /** user -> [stored password, the password to log in with] */
  const users: Record<string, [string, string]> = {};

  before(async () => {
    pg = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'pop3d-userdb-'));
    pg.sql('CREATE ROLE pop3d LOGIN');
    pg.sql('CREATE DATABASE mail OWNER postgres');
    pg.sql(
      `CREATE TABLE mailbox (username varchar(255) PRIMARY KEY, password varchar(255) NOT NULL,
         maildir varchar(255), active boolean NOT NULL DEFAULT true);
       GRANT SELECT ON mailbox TO pop3d;`,
      'mail',
    );
    const schemes = ['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'ARGON2ID', 'ARGON2I', 'PLAIN'];
    for (const scheme of schemes) {
      const pw = `pw ${scheme} ümlaut`;
      users[`u-${scheme.toLowerCase()}@example.org`] = [doveadm(scheme, pw), pw];
    }
    // Bare crypt strings, as PostfixAdmin's default (md5crypt aside) and many scripts store them.
    users['bare-sha512@example.org'] = [doveadm('SHA512-CRYPT', 'bare one').replace(/^\{[^}]+\}/, ''), 'bare one'];
    users['bare-blf@example.org'] = [doveadm('BLF-CRYPT', 'bare two').replace(/^\{[^}]+\}/, ''), 'bare two'];
    const rows = Object.entries(users).map(([u, [hash]]) => `('${u}', '${hash}', NULL, true)`);
    rows.push(`('inactive@example.org', '{PLAIN}inactive-pw', NULL, false)`);
    rows.push(`('carol@example.org', '{PLAIN}carol-pw', 'example.org/carol/', true)`);
    rows.push(`('evil@example.org', '{PLAIN}evil-pw', '../outside/', true)`);
    pg.sql(`INSERT INTO mailbox VALUES ${rows.join(', ')}`, 'mail');

    userdbFile = join(dir, 'userdb.json');
    await writeFile(
      userdbFile,
      JSON.stringify({
        driver: 'postgresql',
        connection: `postgresql://pop3d@/mail?host=${pg.socketDir}&port=${pg.port}`,
        passwordQuery: QUERY,
      }),
      { mode: 0o600 },
    );
    port = await freePort();
    daemon = await startReadyDaemon({
      config: { binds: `127.0.0.1 ${port}`, limits: { loginFailureDelayMs: 0, loginFailureDelayMaxMs: 0 } },
      userdb: userdbFile,
    });
    // PostfixAdmin's layout: the Maildir is <root>/example.org/carol/ itself.
    for (const sub of ['new', 'cur', 'tmp'])
      await mkdir(join(daemon.maildirRoot, 'example.org', 'carol', sub), { recursive: true });
    await writeFile(
      join(daemon.maildirRoot, 'example.org', 'carol', 'new', '1700000000.M1P1.test'),
      'Subject: hi\n\nbody\n',
    );
  });

  after(async () => {
    await daemon?.stop();
    await pg?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (daemon !== undefined) await rm(daemon.dir, { recursive: true, force: true });
  });

  it('users of every scheme, hashed by doveadm pw, log in with poplib; a wrong password gets [AUTH]', () => {
    for (const [user, [, pw]] of Object.entries(users)) {
      assert.equal(poplibLogin(port, user, pw), '+OK 0', user);
    }
    assert.equal(poplibLogin(port, 'u-sha512-crypt@example.org', 'wrong'), '-ERR [AUTH] Authentication failed');
    assert.equal(
      poplibLogin(port, 'u-blf-crypt@example.org', 'pw BLF-CRYPT umlaut'),
      '-ERR [AUTH] Authentication failed',
    );
  });

  it('an inactive user (no row from the query) does not log in', () => {
    assert.equal(poplibLogin(port, 'inactive@example.org', 'inactive-pw'), '-ERR [AUTH] Authentication failed');
    assert.equal(poplibLogin(port, 'nobody@example.org', 'x'), '-ERR [AUTH] Authentication failed');
  });

  it('the maildir column names the Maildir below the root; one that leaves the root is refused', async () => {
    const wire = await login({ host: '127.0.0.1', port }, 'carol@example.org', 'carol-pw');
    try {
      assert.equal(await wire.command('STAT'), '+OK 1 21');
    } finally {
      await wire.command('QUIT');
      wire.close();
    }
    assert.equal(poplibLogin(port, 'evil@example.org', 'evil-pw'), '-ERR [SYS/PERM] Mailbox cannot be opened');
  });

  it('a database that is down answers [SYS/TEMP], never [AUTH]; once it is back logins work without a restart', async () => {
    const [user, [, pw]] = Object.entries(users).find(([u]) => u.startsWith('u-plain'))!;
    assert.equal(poplibLogin(port, user, pw), '+OK 0');
    await pg.stop();
    try {
      assert.equal(poplibLogin(port, user, pw), '-ERR [SYS/TEMP] Authentication temporarily unavailable');
      assert.equal(
        poplibLogin(port, 'nobody@example.org', 'x'),
        '-ERR [SYS/TEMP] Authentication temporarily unavailable',
      );
    } finally {
      await pg.start();
    }
    assert.equal(poplibLogin(port, user, pw), '+OK 0');
    assert.equal(poplibLogin(port, 'carol@example.org', 'carol-pw'), '+OK 1');
    assert.ok(daemon.logEvents().some((e) => e.event === 'userdb.unavailable'));
  });

  it("an unknown user costs a cost class the database's users have (learned from the rows read)", async () => {
    pg.sql(
      `CREATE TABLE cheap (username text PRIMARY KEY, password text NOT NULL);
       GRANT SELECT ON cheap TO pop3d;
       INSERT INTO cheap VALUES ('p', '{PLAIN}p'), ('s', '${doveadm('SHA512-CRYPT', 's')}'), ('b', '${doveadm('BLF-CRYPT', 'b')}');`,
      'mail',
    );
    const pool = new CryptPool(1);
    const { runner, jobs } = recording(pool);
    const db = new PostgresUserDatabase(
      {
        driver: 'postgresql',
        connection: `postgresql://pop3d@/mail?host=${pg.socketDir}&port=${pg.port}`,
        passwordQuery: 'SELECT password FROM cheap WHERE username = $1',
      },
      undefined,
      { crypt: runner },
    );
    try {
      // Nothing read yet: an unknown user costs one SHA512-CRYPT, Dovecot's default.
      assert.deepEqual(await db.verify('ghost', 'x'), { ok: false, reason: 'unknown-user' });
      assert.deepEqual(jobs.map(costOf), ['$6$']);
      const known = new Set<string>(['PLAIN']);
      for (const user of ['p', 's', 'b']) {
        jobs.length = 0;
        assert.deepEqual(await db.verify(user, 'wrong'), { ok: false, reason: 'bad-password' });
        if (jobs[0] !== undefined) known.add(costOf(jobs[0]));
      }
      assert.equal(known.size, 3);
      const used = new Set<string>();
      for (let i = 0; i < 40; i++) {
        jobs.length = 0;
        assert.deepEqual(await db.verify(`ghost-${i}`, 'x'), { ok: false, reason: 'unknown-user' });
        assert.ok(jobs.length <= 1);
        used.add(jobs[0] === undefined ? 'PLAIN' : costOf(jobs[0]));
      }
      // Each class has a 1/3 share: that one is never picked in 40 names is ~1e-7 likely.
      assert.deepEqual([...used].sort(), [...known].sort());
    } finally {
      await db.close();
      await pool.close();
    }
  });

  it('the userdb file is refused when group or others can read it, naming the file and the mode', async () => {
    const loose = join(dir, 'loose.json');
    await writeFile(
      loose,
      JSON.stringify({ driver: 'postgresql', connection: 'postgresql://x@/y', passwordQuery: QUERY }),
      {
        mode: 0o644,
      },
    );
    const out = run([
      '--userdb',
      loose,
      '--maildir-root',
      join(dir, 'm'),
      '--state-dir',
      join(dir, 's'),
      '--config',
      join(dir, 'none.json'),
    ]);
    assert.equal(out.status, 1);
    assert.match(out.stderr, new RegExp(`--userdb ${loose} is readable by group or others \\(mode 0644\\)`));
  });

  it('--users and --userdb together are refused with a usage error', () => {
    const out = run(['--users', join(dir, 'p'), '--userdb', userdbFile, '--maildir-root', dir, '--state-dir', dir]);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /--users and --userdb exclude each other/);
  });
});

function run(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync('node', [POP3D_BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (err) {
    const e = err as { status: number | null; stderr: string };
    return { status: e.status, stderr: e.stderr };
  }
}
