// Moving POP3 from Dovecot to pop3d --uidl dovecot on the same port and Maildir tree: fetchmail (keep, uidl)
// and getmail6 (delete = false, read_all = false) run before and after the switch and download each
// message exactly once. Also a custom pop3_uidl_format, given to both servers.
import { strict as assert } from 'node:assert';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  popUidls,
  shareTree,
  startDovecot,
  type DovecotInstance,
  freePort,
  POP3CTL_BIN,
  POP3D_BIN,
  removeDir,
  startReadyDaemon,
  writeMaildir,
  type Daemon,
} from '@pop3-iac/test-kit';

const asRoot = process.getuid?.() === 0;
const message = (subject: string) => `From: a@example.test\nSubject: ${subject}\n\nThis is ${subject}.\n`;

/** A test directory laid out as startDaemon expects it, readable by Dovecot's processes. */
async function prepare(users: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pop3d-dovecot-'));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'mail'));
  await writeFile(join(dir, 'users'), users.map((u) => `${u}:{PLAIN}secret\n`).join(''), { mode: 0o644 });
  return dir;
}

/** Subjects of the messages a client delivered into `dir` (one file each). */
async function subjects(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await readdir(dir)) {
    const text = await readFile(join(dir, f), 'utf8');
    out.push(/^Subject: (.*)$/m.exec(text)![1]!);
  }
  return out.sort();
}

async function run(file: string, args: string[], env: Record<string, string> = {}) {
  const { execa } = await import('execa');
  const r = await execa(file, args, { reject: false, env, timeout: 60_000 });
  // fetchmail exits 1 when there was no new mail: not a failure here.
  assert.ok(r.exitCode === 0 || (file === 'fetchmail' && r.exitCode === 1), `${file}: ${r.stdout}\n${r.stderr}`);
  return r;
}

describe('moving POP3 from Dovecot to pop3d', () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('fetchmail and getmail6 download each message exactly once across the switch', async () => {
    const dir = await prepare(['ann', 'bob']);
    cleanup.push(() => removeDir(dir));
    const root = join(dir, 'mail');
    await writeMaildir(
      root,
      'ann',
      ['a1', 'a2', 'a3'].map((s) => ({ content: message(s), folder: 'new' as const })),
    );
    await writeMaildir(
      root,
      'bob',
      ['b1', 'b2'].map((s) => ({ content: message(s), folder: 'cur' as const })),
    );
    shareTree(root);

    // fetchmail: keep, uidl; its own rc (mode 0600), id file, pid file and an mda writing one file per message.
    const fm = join(dir, 'fetchmail');
    const fmOut = join(fm, 'out');
    await mkdir(fmOut, { recursive: true });
    const mda = join(fm, 'deliver.sh');
    await writeFile(mda, `#!/bin/sh\nexec cat > "${fmOut}/$(date +%s%N).$$"\n`, { mode: 0o755 });
    const port = await freePort();
    const rc = join(fm, 'fetchmailrc');
    await writeFile(
      rc,
      `set no syslog\npoll 127.0.0.1 service ${port} protocol pop3 uidl\n` +
        `  user "ann" there with password "secret" is "ann" here keep sslproto '' no sslcertck mda "${mda}"\n`,
      { mode: 0o600 },
    );
    const fetchmail = () =>
      run(
        'fetchmail',
        ['--fetchmailrc', rc, '--idfile', join(fm, 'fetchids'), '--pidfile', join(fm, 'pid'), '--nodetach', '-v'],
        { HOME: fm, FETCHMAILHOME: fm },
      );

    // getmail6: delete = false, read_all = false, a Maildir destination; its state in its own getmaildir.
    const gm = join(dir, 'getmail');
    const gmMaildir = join(gm, 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(gmMaildir, sub), { recursive: true });
    const gmrc = join(gm, 'getmailrc');
    await writeFile(
      gmrc,
      `[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = ${port}\nusername = bob\npassword = secret\n` +
        `[destination]\ntype = Maildir\npath = ${gmMaildir}/\n${asRoot ? 'user = nobody\n' : ''}[options]\ndelete = false\nread_all = false\n`,
      { mode: 0o600 },
    );
    // getmail refuses to deliver as root: it writes as nobody then, into a Maildir nobody owns.
    if (asRoot) shareTree(gmMaildir);
    const getmail = () => run('getmail', ['--getmaildir', gm, '--rcfile', gmrc]);
    const gotByGetmail = async () => subjects(join(gmMaildir, 'new'));

    const dovecot: DovecotInstance = await startDovecot({
      dir,
      maildirRoot: root,
      usersFile: join(dir, 'users'),
      pop3Port: port,
    });
    cleanup.push(() => dovecot.stop());
    await fetchmail();
    await getmail();
    assert.deepEqual(await subjects(fmOut), ['a1', 'a2', 'a3']);
    assert.deepEqual(await gotByGetmail(), ['b1', 'b2']);
    // Mail that arrives while Dovecot still serves POP3, but after the clients' last look.
    dovecot.deliver('ann', message('a4'));
    dovecot.deliver('bob', message('b3'));
    assert.deepEqual(dovecot.errors(), []);
    await dovecot.stop();

    // The switch: pop3d on the same port and tree.
    const daemon: Daemon = await startReadyDaemon({
      dir,
      config: { binds: `127.0.0.1 ${port}` },
      args: ['--uidl', 'dovecot'],
    });
    cleanup.push(async () => void (await daemon.stop()));
    await writeFile(join(root, 'ann', 'Maildir', 'new', `${Math.floor(Date.now() / 1000)}.M1P1.drop`), message('a5'));
    for (let i = 0; i < 2; i++) {
      await fetchmail();
      await getmail();
    }
    assert.deepEqual(await subjects(fmOut), ['a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual(await gotByGetmail(), ['b1', 'b2', 'b3']);
  });

  it('a custom pop3_uidl_format (--uidl-format) gives the UIDLs Dovecot gives with it', async () => {
    const format = '%v.%08Xu-%f';
    const dir = await prepare(['ann']);
    cleanup.push(() => removeDir(dir));
    const root = join(dir, 'mail');
    await writeMaildir(
      root,
      'ann',
      ['x', 'y'].map((s) => ({ content: message(s), folder: 'new' as const })),
    );
    shareTree(root);
    const dovecot = await startDovecot({
      dir,
      maildirRoot: root,
      usersFile: join(dir, 'users'),
      extraConf: `pop3_uidl_format = ${format}`,
    });
    cleanup.push(() => dovecot.stop());
    const port = await freePort();
    const daemon = await startReadyDaemon({
      dir,
      config: { binds: `127.0.0.1 ${port}` },
      args: ['--uidl', 'dovecot', '--uidl-format', format],
    });
    cleanup.push(async () => void (await daemon.stop()));
    const fromDovecot = await popUidls(dovecot.pop3Port, 'ann', 'secret');
    await writeFile(join(root, 'ann', 'Maildir', 'new', '1700000100.M1P1.later'), message('z'));
    shareTree(root);
    const fromPop3d = await popUidls(port, 'ann', 'secret');
    assert.equal(fromPop3d.get('x'), fromDovecot.get('x'));
    assert.equal(fromPop3d.get('y'), fromDovecot.get('y'));
    assert.match(fromPop3d.get('x')!, /^\d+\.0000000[12]-\d+\.M\d+P\d+/);
    assert.deepEqual(await popUidls(dovecot.pop3Port, 'ann', 'secret'), fromPop3d);
    assert.deepEqual(dovecot.errors(), []);
  });

  it('a --uidl or --uidl-format pop3d cannot honour stops the start (or the check) with an error naming the flag', async () => {
    const { execa } = await import('execa');
    const pop3d = (args: string[]) =>
      execa(
        'node',
        [
          POP3D_BIN,
          '--users',
          '/nonexistent',
          '--maildir-root',
          '/nonexistent',
          '--state-dir',
          '/nonexistent',
          ...args,
        ],
        {
          reject: false,
        },
      );
    const bogus = await pop3d(['--uidl', 'courier']);
    assert.equal(bogus.exitCode, 2);
    assert.match(bogus.stderr, /--uidl must be maildir or dovecot/);
    const md5 = await pop3d(['--uidl', 'dovecot', '--uidl-format', '%m']);
    assert.equal(md5.exitCode, 2);
    assert.match(md5.stderr, /--uidl-format "%m": variable "%m" is not supported/);
    const alone = await pop3d(['--uidl-format', '%f']);
    assert.equal(alone.exitCode, 2);
    assert.match(alone.stderr, /--uidl-format needs --uidl dovecot/);
    const check = await execa('node', [POP3CTL_BIN, 'uidl-check', '/nonexistent', '--dovecot-format', '%g'], {
      reject: false,
    });
    assert.equal(check.exitCode, 2);
    assert.match(check.stderr, /uidl-check: --dovecot-format "%g"/);
  });
});
