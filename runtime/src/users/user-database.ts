/**
 * What the POP3 session needs from a user database, and the one login check
 * every database runs: the password-length bound, the dummy for unknown
 * users, the comparison.
 */
import type { CryptRunner } from './crypt-pool';
import { type Credential, MAX_PASSWORD_BYTES } from './credentials';
import type { UnknownUserCost } from './unknown-user';

/** Why a verification failed: for the log, never for the client (it always sees `[AUTH]`). */
export type VerifyFailure = 'unknown-user' | 'bad-password' | 'unusable-hash' | 'password-too-long';
export type VerifyResult =
  | {
      ok: true;
      user: string;
      /** The Maildir, relative to the Maildir root, when the database names one (SQL `maildir` column). */
      maildir?: string;
    }
  | { ok: false; reason: VerifyFailure };

export interface UserDatabase {
  /**
   * Checks `password` (the bytes the client sent; a string is UTF-8) for
   * `user` in constant time with respect to the password, and at the cost a
   * known user's check has whether or not the user exists. Rejects with
   * UserDatabaseUnavailableError when the users cannot be read.
   */
  verify(user: string, password: Buffer | string): Promise<VerifyResult>;
}

/** The users could not be read (file missing, database down): the client gets `[SYS/TEMP]`. */
export class UserDatabaseUnavailableError extends Error {
  readonly code = 'USERDB_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserDatabaseUnavailableError';
  }
}

/**
 * Checks `password` against `credential` (undefined: no such user; null: a
 * stored hash that cannot be used). A password over MAX_PASSWORD_BYTES fails
 * before any hashing; any other failure costs one check of a credential of a
 * class users have (unknown-user.ts).
 */
export async function checkLogin(
  credential: Credential | null | undefined,
  unknown: UnknownUserCost,
  user: string,
  password: Buffer | string,
  runner: CryptRunner,
): Promise<'ok' | VerifyFailure> {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (pw.length > MAX_PASSWORD_BYTES) return 'password-too-long';
  if (credential === undefined || credential === null) {
    await unknown.dummyFor(user).check(pw, runner);
    return credential === undefined ? 'unknown-user' : 'unusable-hash';
  }
  return (await credential.check(pw, runner)) ? 'ok' : 'bad-password';
}
