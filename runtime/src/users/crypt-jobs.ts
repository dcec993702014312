/**
 * The expensive password checks, as one job type: SHA-crypt (`$5$`, `$6$`),
 * bcrypt (`$2a$`, `$2b$`, `$2y$`) and Argon2 (`$argon2id$`, `$argon2i$`).
 * They run on the crypt worker threads (crypt-pool.ts), or inline for tools.
 *
 * bcrypt and Argon2 are computed with hash-wasm (Node 20's node:crypto has
 * neither) and compared here with timingSafeEqual: hash-wasm's own
 * bcryptVerify/argon2Verify compare with `===` on strings.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type * as HashWasm from 'hash-wasm';

/**
 * hash-wasm is loaded at the first bcrypt or Argon2 check, not with the daemon:
 * its WebAssembly modules cost start-up time that a site with SHA-crypt users never needs.
 */
let hashWasm: typeof HashWasm | undefined;
function wasm(): typeof HashWasm {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (hashWasm ??= require('hash-wasm') as typeof HashWasm);
}
import { parseShaCryptSetting, shaCrypt } from './sha-crypt';

export type CryptJobKind = 'sha-crypt' | 'bcrypt' | 'argon2';

/** One check: does the password produce `hash`? */
export interface CryptJob {
  kind: CryptJobKind;
  /** The stored hash in its modular crypt form (`$6$…`, `$2y$…`, `$argon2id$…`). */
  hash: string;
}

/** bcrypt reads at most this many octets of a password (crypt_blowfish, OpenBSD). */
const BCRYPT_MAX_PASSWORD = 72;
const BCRYPT_B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Compares two byte strings in constant time whatever their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/** `$2a$`/`$2b$`/`$2y$`, two cost digits, 22 characters of salt and 31 of hash. */
export const BCRYPT_RE = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, salt and hash in unpadded base64. Only version 19 (0x13) is computed. */
export const ARGON2_RE =
  /^\$(argon2id|argon2i)\$v=19\$m=(\d{1,8}),t=(\d{1,4}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$/;

/** Decodes bcrypt's own base64 alphabet (no padding). */
function bcryptBase64Decode(text: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const ch of text) {
    acc = (acc << 6) | BCRYPT_B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < bytes) out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

async function bcryptMatches(password: Buffer, hash: string): Promise<boolean> {
  if (!BCRYPT_RE.test(hash)) throw new TypeError('not a bcrypt hash');
  const cost = Number(hash.slice(4, 6));
  const salt = bcryptBase64Decode(hash.slice(7, 29), 16);
  // hash-wasm refuses an empty or longer password; bcrypt itself ignores what is past 72 octets.
  const pw = password.length === 0 ? Buffer.from([0]) : password.subarray(0, BCRYPT_MAX_PASSWORD);
  const computed = await wasm().bcrypt({ password: pw, salt, costFactor: cost, outputType: 'encoded' });
  // `$2a$`, `$2b$` and `$2y$` compute the same for every password today: compare what follows the version.
  return constantTimeEqual(Buffer.from(computed.slice(3)), Buffer.from(hash.slice(3))) && password.length > 0;
}

async function argon2Matches(password: Buffer, hash: string): Promise<boolean> {
  const m = ARGON2_RE.exec(hash);
  if (m === null) throw new TypeError('not an Argon2 version 19 hash');
  const expected = Buffer.from(m[6]!, 'base64');
  const options = {
    password,
    salt: Buffer.from(m[5]!, 'base64'),
    memorySize: Number(m[2]),
    iterations: Number(m[3]),
    parallelism: Number(m[4]),
    hashLength: expected.length,
    outputType: 'binary' as const,
  };
  const computed = m[1] === 'argon2id' ? await wasm().argon2id(options) : await wasm().argon2i(options);
  return constantTimeEqual(computed, expected);
}

/** Runs one job: whether `password` matches `job.hash`. Throws on a hash of the wrong form. */
export async function runCryptJob(job: CryptJob, password: Buffer): Promise<boolean> {
  switch (job.kind) {
    case 'sha-crypt':
      if (parseShaCryptSetting(job.hash) === undefined) throw new TypeError('not a SHA-crypt hash ($5$ or $6$)');
      return constantTimeEqual(Buffer.from(shaCrypt(password, job.hash)), Buffer.from(job.hash));
    case 'bcrypt':
      return bcryptMatches(password, job.hash);
    case 'argon2':
      return argon2Matches(password, job.hash);
    default:
      throw new TypeError(`unknown crypt job ${String((job as CryptJob).kind)}`);
  }
}
