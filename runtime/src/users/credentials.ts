/**
 * Stored passwords in Dovecot's notation, `{SCHEME}value` or a bare crypt
 * string, from a passwd-file or a database row. Schemes (case-insensitive):
 *
 *   PLAIN, CLEARTEXT            the password itself, as bytes
 *   SHA512-CRYPT, SHA256-CRYPT  `$6$…`, `$5$…` (glibc SHA-crypt)
 *   BLF-CRYPT                   `$2y$…`, `$2b$…`, `$2a$…` (bcrypt)
 *   ARGON2ID, ARGON2I           `$argon2id$v=19$…`, `$argon2i$v=19$…`
 *   CRYPT, or no `{SCHEME}`     any of the crypt strings above, told by prefix
 *   SSHA512, SSHA256, SHA512, SHA256   digests, base64 or `.HEX`
 *
 * Every credential can make a dummy of the same scheme and cost: what an
 * unknown user is checked against (unknown-user.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type CryptRunner, inlineCrypt } from './crypt-pool';
import { ARGON2_RE, BCRYPT_RE, type CryptJobKind, constantTimeEqual } from './crypt-jobs';
import { parseShaCryptSetting, randomCryptSalt } from './sha-crypt';

/**
 * Longest password checked, in octets (as sent, before any decoding). A
 * longer one fails as a wrong password without being hashed: SHA-crypt costs
 * grow with the square of the length (a 65,520-octet PASS held a crypt
 * worker for 9.8 s). 1024 is far beyond what a person types or a password
 * manager makes.
 */
export const MAX_PASSWORD_BYTES = 1024;

/** Argon2 memory (KiB) above which a stored hash is refused as unusable: 1 GiB per check would starve the host. */
const ARGON2_MAX_MEMORY_KIB = 1024 * 1024;

/** One stored credential, able to check a candidate password. */
export interface Credential {
  /** The scheme, upper-case without encoding suffix. */
  readonly scheme: string;
  /** The scheme and its work factor: two credentials of equal cost take the same work to check. */
  readonly cost: string;
  /** Whether `password` matches; crypt work goes to `runner`. */
  check(password: Buffer, runner?: CryptRunner): Promise<boolean>;
  /** A credential of the same scheme and cost over a random secret: what unknown users are checked against. */
  dummy(): Credential;
}

class PlainCredential implements Credential {
  readonly scheme = 'PLAIN';
  readonly cost = 'PLAIN';
  constructor(private readonly secret: Buffer) {}
  check(password: Buffer): Promise<boolean> {
    return Promise.resolve(constantTimeEqual(password, this.secret));
  }
  dummy(): Credential {
    return new PlainCredential(randomBytes(this.secret.length || 16));
  }
}

/** SHA256/SHA512 (salt empty) and SSHA256/SSHA512: digest(password || salt) || salt. */
class ShaCredential implements Credential {
  readonly cost: string;
  constructor(
    readonly scheme: string,
    private readonly alg: 'sha256' | 'sha512',
    private readonly digest: Buffer,
    private readonly salt: Buffer,
  ) {
    this.cost = scheme;
  }
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

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomFrom(alphabet: string, length: number): string {
  let out = '';
  for (const byte of randomBytes(length)) out += alphabet[byte % alphabet.length];
  return out;
}

function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/=+$/, '');
}

/** A crypt string checked on the crypt workers: SHA-crypt, bcrypt or Argon2. */
class JobCredential implements Credential {
  constructor(
    readonly scheme: string,
    readonly cost: string,
    private readonly kind: CryptJobKind,
    private readonly hash: string,
  ) {}
  check(password: Buffer, runner: CryptRunner = inlineCrypt): Promise<boolean> {
    return runner.run({ kind: this.kind, hash: this.hash }, password);
  }
  /** The same parameters, a random salt and a random hash: no crypt work needed to make it. */
  dummy(): Credential {
    let hash: string;
    if (this.kind === 'sha-crypt') {
      const p = parseShaCryptSetting(this.hash)!;
      const tail = this.hash.slice(this.hash.lastIndexOf('$') + 1);
      hash =
        this.hash.slice(0, 3) +
        (p.roundsCustom ? `rounds=${p.rounds}$` : '') +
        randomCryptSalt(Math.max(1, p.salt.length)) +
        '$' +
        randomFrom(CRYPT_ALPHABET, tail.length);
    } else if (this.kind === 'bcrypt') {
      hash = this.hash.slice(0, 7) + randomFrom(CRYPT_ALPHABET, 53);
    } else {
      const m = ARGON2_RE.exec(this.hash)!;
      const params = this.hash.slice(0, this.hash.length - m[5]!.length - m[6]!.length - 2);
      hash = `${params}$${randomBase64(Buffer.from(m[5]!, 'base64').length)}$${randomBase64(Buffer.from(m[6]!, 'base64').length)}`;
    }
    return new JobCredential(this.scheme, this.cost, this.kind, hash);
  }
}

/** The crypt forms of `value`, told by prefix; undefined when it is none we can check. */
function cryptCredential(value: string): JobCredential | undefined {
  if (value.startsWith('$5$') || value.startsWith('$6$')) {
    const p = parseShaCryptSetting(value);
    if (p === undefined || !/\$[./0-9A-Za-z]{43,86}$/.test(value)) return undefined;
    const scheme = p.algorithm === 'sha256' ? 'SHA256-CRYPT' : 'SHA512-CRYPT';
    return new JobCredential(scheme, `${scheme} rounds=${p.rounds}`, 'sha-crypt', value);
  }
  if (BCRYPT_RE.test(value)) return new JobCredential('BLF-CRYPT', `BLF-CRYPT ${value.slice(4, 6)}`, 'bcrypt', value);
  const a = ARGON2_RE.exec(value);
  if (a !== null) {
    if (Number(a[2]) > ARGON2_MAX_MEMORY_KIB || Number(a[3]) < 1 || Number(a[4]) < 1) return undefined;
    const scheme = a[1]!.toUpperCase();
    return new JobCredential(scheme, `${scheme} m=${a[2]},t=${a[3]},p=${a[4]}`, 'argon2', value);
  }
  return undefined;
}

/** The crypt prefix each `{SCHEME}` requires of its value. */
const CRYPT_SCHEMES: Readonly<Record<string, RegExp>> = {
  'SHA512-CRYPT': /^\$6\$/,
  'SHA256-CRYPT': /^\$5\$/,
  'BLF-CRYPT': /^\$2[aby]\$/,
  ARGON2ID: /^\$argon2id\$/,
  ARGON2I: /^\$argon2i\$/,
  CRYPT: /^\$(?:[56]|2[aby])\$/,
};

const SHA_SCHEMES: Readonly<Record<string, { alg: 'sha256' | 'sha512'; salted: boolean }>> = {
  SHA256: { alg: 'sha256', salted: false },
  SHA512: { alg: 'sha512', salted: false },
  SSHA256: { alg: 'sha256', salted: true },
  SSHA512: { alg: 'sha512', salted: true },
};

/**
 * Turns a stored password into a credential, or undefined when it cannot be
 * used. A Buffer is taken as the bytes stored (a passwd-file line: a
 * `{PLAIN}` password is compared byte for byte, whatever its encoding); a
 * string is UTF-8 (a database column).
 */
export function parseCredential(stored: string | Buffer): Credential | undefined {
  const bytes = typeof stored === 'string' ? Buffer.from(stored, 'utf8') : stored;
  // latin1 maps each octet to one character: the scheme and crypt strings are ASCII, PLAIN is cut from `bytes`.
  const field = bytes.toString('latin1');
  let scheme: string;
  let start = 0;
  const m = /^\{([A-Za-z0-9.-]+)\}/.exec(field);
  if (m) {
    scheme = m[1]!.toUpperCase();
    start = m[0].length;
  } else {
    // Dovecot's default scheme for passwd-file is CRYPT; a bare Argon2 string is taken too.
    scheme = 'BARE';
  }
  const value = field.slice(start);
  let encoding: 'base64' | 'hex' = 'base64';
  if (scheme.endsWith('.HEX')) {
    encoding = 'hex';
    scheme = scheme.slice(0, -4);
  } else if (scheme.endsWith('.B64') || scheme.endsWith('.BASE64')) {
    scheme = scheme.slice(0, scheme.lastIndexOf('.'));
  }
  if (value === '') return undefined;
  if (scheme === 'PLAIN' || scheme === 'CLEARTEXT') return new PlainCredential(Buffer.from(bytes.subarray(start)));
  if (scheme === 'BARE') return cryptCredential(value);
  const prefix = CRYPT_SCHEMES[scheme];
  if (prefix !== undefined) return prefix.test(value) ? cryptCredential(value) : undefined;
  const sha = SHA_SCHEMES[scheme];
  if (sha === undefined) return undefined;
  const digest = encoding === 'hex' ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  const len = sha.alg === 'sha256' ? 32 : 64;
  if (sha.salted ? digest.length <= len : digest.length !== len) return undefined;
  return new ShaCredential(scheme, sha.alg, digest.subarray(0, len), digest.subarray(len));
}

/** What unknown users cost when nothing is known of the stored schemes: SHA512-CRYPT, Dovecot's default. */
export function defaultDummy(): Credential {
  return cryptCredential('$6$' + randomCryptSalt() + '$' + randomFrom(CRYPT_ALPHABET, 86))!;
}
