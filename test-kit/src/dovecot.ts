/**
 * A private Dovecot (Debian's dovecot-pop3d and dovecot-imapd) for tests
 * that share a Maildir tree with pop3d: its own generated dovecot.conf,
 * base_dir, state_dir and log under the test's directory, POP3 and IMAP on
 * OS-chosen loopback ports, the same passwd-file as pop3d, and
 * `mail_location = maildir:<root>/%u/Maildir`, written by dovecot-conf.ts
 * (the benchmark's Dovecot uses the same writer).
 *
 * Dovecot never touches mail as root: when the test runs as root the mail
 * belongs to `nobody` (shareTree gives the tree to that user), otherwise to
 * the test's own user.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import { dovecotConfText, dovecotConfPaths, type DovecotListener } from './dovecot-conf';
import { freePort } from './pop3d-process';

/** How long Dovecot may take to greet after start, ms. */
const READY_TIMEOUT_MS = 20_000;

const asRoot = process.getuid?.() === 0;
/** The uid and gid Dovecot reads and writes mail as. */
export const MAIL_UID = asRoot ? 65534 : process.getuid!();
export const MAIL_GID = asRoot ? 65534 : process.getgid!();

export interface DovecotInstance {
  pop3Port: number;
  imapPort: number;
  confFile: string;
  logFile: string;
  /** Delivers `message` to `user` with Dovecot's LDA (`dovecot-lda -c <conf> -d user`). */
  deliver(user: string, message: string): void;
  /** Error, Fatal and Panic lines of Dovecot's log so far. */
  errors(): string[];
  log(): string;
  stop(): Promise<void>;
}

/** Gives the Maildir tree to the user Dovecot reads mail as (a no-op unless the test runs as root). */
export function shareTree(root: string): void {
  if (asRoot) execFileSync('chown', ['-R', `${MAIL_UID}:${MAIL_GID}`, root]);
}

export async function startDovecot(opts: {
  dir: string;
  maildirRoot: string;
  usersFile: string;
  /** More dovecot.conf lines (pop3_uidl_format = ...). */
  extraConf?: string;
  /** The POP3 port (a switch test gives pop3d the same one later); default chosen by the OS. */
  pop3Port?: number;
}): Promise<DovecotInstance> {
  const { execa } = await import('execa');
  const dir = opts.dir;
  for (const sub of ['run', 'state']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
  const pop3Port = opts.pop3Port ?? (await freePort());
  const imapPort = await freePort();
  const { confFile, logFile } = dovecotConfPaths(dir);
  const me = userInfo().username;
  const off = (name: string): DovecotListener => ({ name, port: 0 });
  writeFileSync(
    confFile,
    dovecotConfText({
      dir,
      instanceName: `pop3d-test-${pop3Port}`,
      generatedBy: '@pop3-iac/test-kit (dovecot.ts)',
      protocols: ['pop3', 'imap'],
      usersFile: opts.usersFile,
      maildirRoot: opts.maildirRoot,
      mailUser: { uid: MAIL_UID, gid: MAIL_GID },
      firstValid: { uid: Math.min(MAIL_UID, 500), gid: Math.min(MAIL_GID, 500) },
      userdb: 'static',
      loginUser: asRoot ? 'dovenull' : me,
      internalUser: asRoot ? 'dovecot' : me,
      settings: opts.extraConf === undefined ? [] : [opts.extraConf],
      services: [
        { name: 'pop3-login', listeners: [{ name: 'pop3', port: pop3Port }, off('pop3s')] },
        { name: 'imap-login', listeners: [{ name: 'imap', port: imapPort }, off('imaps')] },
      ],
    }),
  );
  execFileSync('doveconf', ['-c', confFile, '-n'], { stdio: 'pipe' });
  const child: ResultPromise = execa('dovecot', ['-F', '-c', confFile], {
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: { file: join(dir, 'dovecot.stderr') },
  });
  const readLog = () => dovecotLog(logFile);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await greets(pop3Port)) || !(await greets(imapPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dovecot did not start:\n${readLog()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pop3Port,
    imapPort,
    confFile,
    logFile,
    deliver(user, message) {
      execFileSync('/usr/lib/dovecot/dovecot-lda', ['-c', confFile, '-d', user], { input: message, stdio: 'pipe' });
    },
    log: readLog,
    errors: () => dovecotLogLines(logFile, ['Error', 'Fatal', 'Panic']),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child;
      clearTimeout(timer);
    },
  };
}

/** Dovecot's log so far ('' before it exists). */
export function dovecotLog(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8');
  } catch {
    return '';
  }
}

/** The log lines of these levels (`Warning`, `Error`, `Fatal`, `Panic`). */
export function dovecotLogLines(logFile: string, levels: string[]): string[] {
  const level = new RegExp(` (${levels.join('|')}): `);
  return dovecotLog(logFile)
    .split('\n')
    .filter((l) => level.test(l));
}

/** Whether something on `port` sends a POP3 (`+OK`) or IMAP (`* OK`) greeting within a second. */
export async function greets(port: number): Promise<boolean> {
  const socket = connect({ host: '127.0.0.1', port });
  try {
    const [chunk] = (await once(socket, 'data', { signal: AbortSignal.timeout(1000) })) as [Buffer];
    return /^(\+OK|\* OK)/.test(chunk.toString('latin1'));
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

const POP_SCRIPT = `
import hashlib, json, poplib, sys
port, user, password, delete = int(sys.argv[1]), sys.argv[2], sys.argv[3], set(sys.argv[4].split(',')) - {''}
p = poplib.POP3('127.0.0.1', port, timeout=30)
p.user(user)
p.pass_(password)
out = {}
for line in p.uidl()[1]:
    n, uidl = line.decode().split(' ', 1)
    body = b'\\n'.join(p.retr(int(n))[1])
    key = hashlib.sha1(body).hexdigest()
    out[key] = {'uidl': uidl, 'subject': next((l.decode()[9:] for l in body.split(b'\\n') if l.startswith(b'Subject: ')), '')}
    if out[key]['subject'] in delete:
        p.dele(int(n))
p.quit()
print(json.dumps(out))
`;

const POP_ERROR_SCRIPT = `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=60)
p.user(sys.argv[2])
try:
    p.pass_(sys.argv[3])
    print('+OK')
except poplib.error_proto as e:
    print(e.args[0].decode())
`;

/**
 * Logs in with python3's poplib, retrieves every message and returns
 * `Subject -> UIDL` (so messages are compared by content, not by number);
 * messages whose subject is in `deleteSubjects` are deleted before QUIT.
 */
export async function popUidls(
  port: number,
  user: string,
  password: string,
  deleteSubjects: string[] = [],
): Promise<Map<string, string>> {
  const { execa } = await import('execa');
  const { stdout } = await execa('python3', ['-c', POP_SCRIPT, String(port), user, password, deleteSubjects.join(',')]);
  const parsed = JSON.parse(stdout) as Record<string, { uidl: string; subject: string }>;
  return new Map(Object.values(parsed).map((m) => [m.subject, m.uidl]));
}

/** The answer to PASS (poplib): `+OK` or the server's `-ERR ...` line. */
export async function popLoginAnswer(port: number, user: string, password: string): Promise<string> {
  const { execa } = await import('execa');
  const { stdout } = await execa('python3', ['-c', POP_ERROR_SCRIPT, String(port), user, password]);
  return stdout.trim();
}

const IMAP_SCRIPT = `
import imaplib, json, re, sys
port, user, password, expunge = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
m = imaplib.IMAP4('127.0.0.1', port)
m.login(user, password)
m.select('INBOX')
subjects = []
typ, data = m.uid('FETCH', '1:*', '(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
for part in data:
    if isinstance(part, tuple):
        uid = int(re.search(rb'UID (\\d+)', part[0]).group(1))
        flags = re.search(rb'FLAGS \\(([^)]*)\\)', part[0]).group(1).decode().split()
        subject = part[1].decode().strip()[9:]
        subjects.append({'uid': uid, 'subject': subject, 'flags': flags})
        if subject == expunge:
            m.uid('STORE', str(uid), '+FLAGS', '(\\\\Deleted)')
m.expunge()
typ, data = m.status('INBOX', '(UIDVALIDITY)')
m.logout()
print(json.dumps({'messages': subjects, 'status': data[0].decode()}))
`;

/** python3 imaplib: the INBOX's messages (UID, Subject, flags) and status; expunges the one with subject `expunge`. */
export async function imapMessages(
  port: number,
  user: string,
  password: string,
  expunge = '',
): Promise<{ messages: Array<{ uid: number; subject: string; flags: string[] }>; status: string }> {
  const { execa } = await import('execa');
  const { stdout } = await execa('python3', ['-c', IMAP_SCRIPT, String(port), user, password, expunge]);
  return JSON.parse(stdout) as { messages: Array<{ uid: number; subject: string; flags: string[] }>; status: string };
}
