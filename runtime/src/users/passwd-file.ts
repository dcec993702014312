/**
 * Users from a Dovecot-style passwd-file:
 *
 *   user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]
 *
 * `#` starts a comment line; blank lines are ignored; only the first two
 * fields are used. When a user appears twice the first line wins (as in
 * Dovecot, which logs "exists more than once"). Schemes (case-insensitive):
 * PLAIN/CLEARTEXT, SHA512-CRYPT, SHA256-CRYPT, CRYPT (only its `$5$`/`$6$`
 * forms), SSHA512, SSHA256, SHA512, SHA256 (the SHA ones base64, or hex with a
 * `.HEX` suffix, as Dovecot writes `{SSHA512.HEX}`). A hash without `{SCHEME}`
 * is accepted when it is a `$5$`/`$6$` crypt string. A line whose hash cannot
 * be used (unknown scheme, empty) makes that user unable to log in; it is
 * logged, by line number, never by content.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { type Logger, nullLogger } from '../log.js';
import { type CryptRunner, inlineCrypt, sharedCryptPool } from './crypt-pool.js';
import { parseShaCryptSetting, randomCryptSalt, shaCrypt } from './sha-crypt.js';

/** Why a verification failed: for the log, never for the client (it always sees `[AUTH]`). */
export type VerifyFailure = 'unknown-user' | 'bad-password' | 'unusable-hash';
export type VerifyResult = { ok: true; user: string } | { ok: false; reason: VerifyFailure };

/** What the POP3 session needs from a user database. */
export interface UserDatabase {
  /**
   * Checks `password` for `user` in constant time with respect to the
   * password, and in the same time whether or not the user exists.
   * Rejects with UserDatabaseUnavailableError when no user list can be read.
   */
  verify(user: string, password: string): Promise<VerifyResult>;
}

/** The user list could not be read and no earlier copy is at hand (the client gets `[SYS/TEMP]`). */
export class UserDatabaseUnavailableError extends Error {
  readonly code = 'USERDB_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserDatabaseUnavailableError';
  }
}

/** A user name or password that cannot be written to a passwd-file. */
export class InvalidCredentialError extends Error {
  readonly code = 'INVALID_CREDENTIAL';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCredentialError';
  }
}

/** A scheme hashPassword() does not write. */
export class UnsupportedSchemeError extends Error {
  readonly code = 'UNSUPPORTED_SCHEME';
  constructor(scheme: string) {
    super(`unsupported password scheme ${JSON.stringify(scheme)}`);
    this.name = 'UnsupportedSchemeError';
  }
}

/** One stored credential, able to check a candidate password. */
export interface Credential {
  /** The scheme, upper-case without encoding suffix, for the dummy built from it. */
  readonly scheme: string;
  /** Whether `password` matches; SHA-crypt work goes to `runner`. */
  check(password: Buffer, runner?: CryptRunner): Promise<boolean>;
  /** A credential of the same scheme and cost over a random secret: what unknown users are checked against. */
  dummy(): Credential;
}

/** Compares two byte strings in constant time whatever their lengths. */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

class PlainCredential implements Credential {
  readonly scheme = 'PLAIN';
  constructor(private readonly secret: Buffer) {}
  check(password: Buffer): Promise<boolean> {
    return Promise.resolve(constantTimeEqual(password, this.secret));
  }
  dummy(): Credential {
    return new PlainCredential(randomBytes(this.secret.length || 16));
  }
}

class CryptCredential implements Credential {
  readonly scheme: string;
  constructor(private readonly hash: string) {
    this.scheme = hash.startsWith('$5$') ? 'SHA256-CRYPT' : 'SHA512-CRYPT';
  }
  async check(password: Buffer, runner: CryptRunner = inlineCrypt): Promise<boolean> {
    const computed = await runner.crypt(password, this.hash);
    return constantTimeEqual(Buffer.from(computed), Buffer.from(this.hash));
  }
  dummy(): Credential {
    const p = parseShaCryptSetting(this.hash)!;
    const prefix = p.algorithm === 'sha256' ? '$5$' : '$6$';
    const setting = prefix + (p.roundsCustom ? `rounds=${p.rounds}$` : '') + randomCryptSalt();
    return new CryptCredential(shaCrypt(randomBytes(16), setting));
  }
}

/** SHA256/SHA512 (salt empty) and SSHA256/SSHA512: digest(password || salt) || salt. */
class ShaCredential implements Credential {
  constructor(
    readonly scheme: string,
    private readonly alg: 'sha256' | 'sha512',
    private readonly digest: Buffer,
    private readonly salt: Buffer,
  ) {}
  check(password: Buffer): Promise<boolean> {
    const d = createHash(this.alg).update(password).update(this.salt).digest();
    return Promise.resolve(constantTimeEqual(d, this.digest));
  }
  dummy(): Credential {
    const salt = randomBytes(this.salt.length);
    const d = createHash(this.alg).update(randomBytes(16)).update(salt).digest();
    return new ShaCredential(this.scheme, this.alg, d, salt);
  }
}

/** Used when the file holds no usable entry: the cost of the default scheme. */
function defaultDummy(): Credential {
  return new CryptCredential(shaCrypt(randomBytes(16), '$6$' + randomCryptSalt()));
}

const SHA_SCHEMES: Readonly<Record<string, { alg: 'sha256' | 'sha512'; salted: boolean }>> = {
  SHA256: { alg: 'sha256', salted: false },
  SHA512: { alg: 'sha512', salted: false },
  SSHA256: { alg: 'sha256', salted: true },
  SSHA512: { alg: 'sha512', salted: true },
};

/** Turns a passwd-file password field into a credential, or undefined when it cannot be used. */
export function parseCredential(field: string): Credential | undefined {
  let scheme: string;
  let value: string;
  const m = /^\{([A-Za-z0-9.-]+)\}/.exec(field);
  if (m) {
    scheme = m[1]!.toUpperCase();
    value = field.slice(m[0].length);
  } else {
    // Dovecot's default scheme for passwd-file is CRYPT; of it we know $5$ and $6$.
    scheme = 'CRYPT';
    value = field;
  }
  let encoding: 'base64' | 'hex' = 'base64';
  if (scheme.endsWith('.HEX')) {
    encoding = 'hex';
    scheme = scheme.slice(0, -4);
  } else if (scheme.endsWith('.B64') || scheme.endsWith('.BASE64')) {
    scheme = scheme.slice(0, scheme.lastIndexOf('.'));
  }
  if (value === '') return undefined;
  switch (scheme) {
    case 'PLAIN':
    case 'CLEARTEXT':
      return new PlainCredential(Buffer.from(value, 'utf8'));
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT':
    case 'CRYPT': {
      const want = scheme === 'SHA256-CRYPT' ? '$5$' : scheme === 'SHA512-CRYPT' ? '$6$' : undefined;
      if (want !== undefined && !value.startsWith(want)) return undefined;
      if (parseShaCryptSetting(value) === undefined || !/\$[./0-9A-Za-z]{43,86}$/.test(value)) return undefined;
      return new CryptCredential(value);
    }
    default: {
      const sha = SHA_SCHEMES[scheme];
      if (sha === undefined) return undefined;
      const bytes = encoding === 'hex' ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
      const len = sha.alg === 'sha256' ? 32 : 64;
      if (sha.salted ? bytes.length <= len : bytes.length !== len) return undefined;
      return new ShaCredential(scheme, sha.alg, bytes.subarray(0, len), bytes.subarray(len));
    }
  }
}

interface Snapshot {
  users: Map<string, Credential | null>;
  dummy: Credential;
  /** stat fields that tell a changed file. */
  stamp: string;
}

function stampOf(st: { mtimeMs: number; ctimeMs: number; size: number; ino: number }): string {
  return `${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.ino}`;
}

/** Parses passwd-file text. Problems are reported by line number only. */
export function parsePasswdFile(
  text: string,
  log: Logger = nullLogger,
  file = '',
): { users: Map<string, Credential | null>; dummy: Credential } {
  const users = new Map<string, Credential | null>();
  let dummySource: Credential | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    if (colon === -1 || name === '') {
      log.warn('passwd_line_invalid', { file, line: i + 1 });
      continue;
    }
    if (users.has(name)) {
      log.warn('passwd_user_duplicate', { file, line: i + 1, user: name });
      continue;
    }
    const rest = line.slice(colon + 1);
    const next = rest.indexOf(':');
    const cred = parseCredential(next === -1 ? rest : rest.slice(0, next));
    if (cred === undefined) log.warn('passwd_hash_unusable', { file, line: i + 1, user: name });
    users.set(name, cred ?? null);
    dummySource ??= cred;
  }
  return { users, dummy: dummySource?.dummy() ?? defaultDummy() };
}

/** How often a users file is checked for changes, in milliseconds. 1000 (1 s). */
export const CHECK_INTERVAL_MS = 1000;

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

  async verify(user: string, password: string): Promise<VerifyResult> {
    const snap = await this.current();
    const pw = Buffer.from(password, 'utf8');
    const cred = snap.users.get(user);
    if (cred === undefined || cred === null) {
      // Unknown users cost what known ones cost: check against a dummy of the file's own scheme.
      await snap.dummy.check(pw, this.crypt);
      return { ok: false, reason: cred === undefined ? 'unknown-user' : 'unusable-hash' };
    }
    return (await cred.check(pw, this.crypt)) ? { ok: true, user } : { ok: false, reason: 'bad-password' };
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
      const text = await fsp.readFile(this.file, 'utf8');
      const parsed = parsePasswdFile(text, this.log, this.file);
      this.snapshot = { ...parsed, stamp };
      this.log.info('passwd_loaded', { file: this.file, users: parsed.users.size });
      return this.snapshot;
    } catch (err) {
      if (this.snapshot) {
        this.log.warn('passwd_reload_failed', { file: this.file, error: err });
        return this.snapshot;
      }
      this.log.error('passwd_unavailable', { file: this.file, error: err });
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
export function isValidPasswdUserName(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || Buffer.byteLength(name) > 255) return false;
  if (name.startsWith('#')) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0020\u007f:/\\]/.test(name);
}

/** One write at a time per file in this process. */
const writeChains = new Map<string, Promise<unknown>>();

/**
 * Adds `name` to `passwdFile`, or replaces its password if present (its other
 * fields are kept), atomically: temp file in the same directory, fsync,
 * rename over the old file, fsync of the directory. The file ends up mode 0600.
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

  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.chmod(0o600);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
  return outcome;
}
