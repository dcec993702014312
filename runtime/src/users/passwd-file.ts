/**
 * Users from a Dovecot-style passwd-file:
 *
 *   user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]
 *
 * `#` starts a comment line; blank lines are ignored; only the first two
 * fields are used. When a user appears twice the first line wins (as in
 * Dovecot, which logs "exists more than once"). Schemes: credentials.ts. A
 * hash without `{SCHEME}` is taken as a crypt string. The file is read as
 * bytes: a user name is UTF-8, a `{PLAIN}` password is compared with what the
 * client sent byte for byte. A line whose hash cannot be used (unknown
 * scheme, empty) makes that user unable to log in; it is logged, by line
 * number, never by content.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write';
import { type Logger, nullLogger } from '../log';
import { type CryptRunner, sharedCryptPool } from './crypt-pool';
import { type Credential, parseCredential } from './credentials';
import { randomCryptSalt, shaCrypt } from './sha-crypt';
import { UnknownUserCost } from './unknown-user';
import { UserDatabaseUnavailableError, type UserDatabase, type VerifyResult, checkLogin } from './user-database';

/** A user name or password that cannot be written to a passwd-file. */
export class InvalidCredentialError extends Error {
  readonly code = 'INVALID_CREDENTIAL';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCredentialError';
  }
}

/** A scheme hashPassword() does not write. */
class UnsupportedSchemeError extends Error {
  readonly code = 'UNSUPPORTED_SCHEME';
  constructor(scheme: string) {
    super(`unsupported password scheme ${JSON.stringify(scheme)}`);
    this.name = 'UnsupportedSchemeError';
  }
}

interface Snapshot {
  users: Map<string, Credential | null>;
  unknown: UnknownUserCost;
  /** stat fields that tell a changed file. */
  stamp: string;
}

function stampOf(st: { mtimeMs: number; ctimeMs: number; size: number; ino: number }): string {
  return `${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.ino}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses passwd-file contents. Problems are reported by line number only. */
function parsePasswdFile(
  data: Buffer | string,
  log: Logger = nullLogger,
  file = '',
): { users: Map<string, Credential | null>; unknown: UnknownUserCost } {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const users = new Map<string, Credential | null>();
  const unknown = new UnknownUserCost();
  let lineNo = 0;
  for (let pos = 0; pos < bytes.length;) {
    let eol = bytes.indexOf(0x0a, pos);
    if (eol === -1) eol = bytes.length;
    let line = bytes.subarray(pos, eol);
    pos = eol + 1;
    lineNo++;
    if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
    const text = line.toString('latin1');
    if (text.trim() === '' || text.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(0x3a);
    let name: string | undefined;
    try {
      name = colon <= 0 ? undefined : utf8.decode(line.subarray(0, colon));
    } catch {
      name = undefined;
    }
    if (name === undefined) {
      log.warn('passwd.line_invalid', { file, line: lineNo });
      continue;
    }
    if (users.has(name)) {
      log.warn('passwd.user_duplicate', { file, line: lineNo, user: name });
      continue;
    }
    const rest = line.subarray(colon + 1);
    const next = rest.indexOf(0x3a);
    const cred = parseCredential(next === -1 ? rest : rest.subarray(0, next));
    if (cred === undefined) log.warn('passwd.hash_unusable', { file, line: lineNo, user: name });
    else unknown.add(cred);
    users.set(name, cred ?? null);
  }
  return { users, unknown };
}

/** How often a users file is checked for changes, in milliseconds. 1000 (1 s). */
const CHECK_INTERVAL_MS = 1000;

/**
 * A passwd-file user database. The file is read at the first login and again
 * whenever its mtime/ctime/size/inode change, checked with one stat at most
 * every `checkIntervalMs` (not one per login). If a re-read fails, the last
 * good copy stays in use.
 */
export class PasswdFileDatabase implements UserDatabase {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private checkedAt = 0;
  private readonly checkIntervalMs: number;

  private readonly crypt: CryptRunner;

  /**
   * @param opts.crypt where SHA-crypt hashes are computed; default the
   * process-wide worker pool (sharedCryptPool), so that the event loop never
   * spends the ~10 ms a hash costs.
   * @param opts.checkIntervalMs how often the file is checked for changes, in
   * milliseconds. Default CHECK_INTERVAL_MS (1 s); 0 checks at every login.
   */
  constructor(
    readonly file: string,
    private readonly log: Logger = nullLogger,
    opts: { crypt?: CryptRunner; checkIntervalMs?: number } = {},
  ) {
    this.crypt = opts.crypt ?? sharedCryptPool();
    this.checkIntervalMs = opts.checkIntervalMs ?? CHECK_INTERVAL_MS;
  }

  /** Number of users in the last copy read (0 before the first read). */
  get size(): number {
    return this.snapshot?.users.size ?? 0;
  }

  async verify(user: string, password: Buffer | string): Promise<VerifyResult> {
    const snap = await this.current();
    const verdict = await checkLogin(snap.users.get(user), snap.unknown, user, password, this.crypt);
    return verdict === 'ok' ? { ok: true, user } : { ok: false, reason: verdict };
  }

  /** Reads the file now if it changed (or was never read). */
  async current(): Promise<Snapshot> {
    // At most one stat per checkIntervalMs, not one per login: a changed file is seen within that time.
    if (this.snapshot && Date.now() - this.checkedAt < this.checkIntervalMs) return this.snapshot;
    if (this.loading) return this.loading;
    this.loading = this.refresh().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async refresh(): Promise<Snapshot> {
    try {
      const st = await fsp.stat(this.file);
      this.checkedAt = Date.now();
      const stamp = stampOf(st);
      if (this.snapshot && this.snapshot.stamp === stamp) return this.snapshot;
      const data = await fsp.readFile(this.file);
      const parsed = parsePasswdFile(data, this.log, this.file);
      this.snapshot = { ...parsed, stamp };
      this.log.info('passwd.loaded', { file: this.file, users: parsed.users.size });
      return this.snapshot;
    } catch (err) {
      if (this.snapshot) {
        this.log.warn('passwd.reload_failed', { file: this.file, error: err });
        return this.snapshot;
      }
      this.log.error('passwd.unavailable', { file: this.file, error: err });
      throw new UserDatabaseUnavailableError(`cannot read the users file ${this.file}`, { cause: err });
    }
  }
}

/** Schemes hashPassword() writes. */
export type WritableScheme = 'SHA512-CRYPT' | 'SHA256-CRYPT' | 'SSHA512' | 'SSHA256' | 'PLAIN';

/** Salt length, in bytes, for SSHA256/SSHA512 (Dovecot uses 8; more costs nothing). */
const SSHA_SALT_BYTES = 16;

/**
 * Hashes `password` as a passwd-file password field, `{SCHEME}...`.
 * Default SHA512-CRYPT with the specification's default 5000 rounds, as
 * `doveadm pw -s SHA512-CRYPT` writes it.
 */
export function hashPassword(password: string, scheme: WritableScheme = 'SHA512-CRYPT'): string {
  const pw = Buffer.from(password, 'utf8');
  switch (scheme) {
    case 'SHA512-CRYPT':
      return '{SHA512-CRYPT}' + shaCrypt(pw, '$6$' + randomCryptSalt());
    case 'SHA256-CRYPT':
      return '{SHA256-CRYPT}' + shaCrypt(pw, '$5$' + randomCryptSalt());
    case 'SSHA512':
    case 'SSHA256': {
      const salt = randomBytes(SSHA_SALT_BYTES);
      const d = createHash(scheme === 'SSHA512' ? 'sha512' : 'sha256')
        .update(pw)
        .update(salt)
        .digest();
      return `{${scheme}}` + Buffer.concat([d, salt]).toString('base64');
    }
    case 'PLAIN':
      if (/[:\r\n\0]/.test(password))
        throw new InvalidCredentialError('a {PLAIN} password cannot hold ":", CR, LF or NUL');
      return '{PLAIN}' + password;
    default:
      throw new UnsupportedSchemeError(String(scheme));
  }
}

/**
 * Whether `name` can be a passwd-file user: 1-255 octets of printable
 * characters, no `:` (the field separator), no whitespace, no `/`, not `.` or
 * `..`, not starting with `#` (a comment).
 */
function isValidPasswdUserName(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || Buffer.byteLength(name) > 255) return false;
  if (name.startsWith('#')) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0020\u007f:/\\]/.test(name);
}

/** One write at a time per file in this process. */
const writeChains = new Map<string, Promise<unknown>>();

/**
 * Adds `name` to `passwdFile`, or replaces its password if present (its other
 * fields are kept), atomically (fs/atomic-write.ts). The file ends up mode 0600.
 * Returns whether the user was added or replaced.
 */
export async function addUser(
  passwdFile: string,
  name: string,
  password: string,
  scheme: WritableScheme = 'SHA512-CRYPT',
): Promise<'added' | 'replaced'> {
  if (!isValidPasswdUserName(name)) throw new InvalidCredentialError(`invalid user name ${JSON.stringify(name)}`);
  if (password === '') throw new InvalidCredentialError('the password is empty');
  const field = hashPassword(password, scheme);
  const key = path.resolve(passwdFile);
  const prev = writeChains.get(key) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(() => rewritePasswdFile(key, name, field));
  writeChains.set(key, run);
  try {
    return await run;
  } finally {
    if (writeChains.get(key) === run) writeChains.delete(key);
  }
}

async function rewritePasswdFile(file: string, name: string, field: string): Promise<'added' | 'replaced'> {
  let text = '';
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let outcome: 'added' | 'replaced' = 'added';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon === -1 || line.slice(0, colon) !== name || line.trimStart().startsWith('#')) continue;
    const rest = line.slice(colon + 1);
    const next = rest.indexOf(':');
    lines[i] = `${name}:${field}${next === -1 ? '' : rest.slice(next)}`;
    outcome = 'replaced';
    break;
  }
  if (outcome === 'added') lines.push(`${name}:${field}`);
  const data = lines.join('\n') + '\n';

  await writeFileAtomic(file, data);
  return outcome;
}
