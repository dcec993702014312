/**
 * SHA-256-crypt (`$5$`) and SHA-512-crypt (`$6$`), the glibc algorithms of
 * Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
 * (https://www.akkadia.org/drepper/SHA-crypt.txt), on node:crypto.
 * The step numbers in the comments are the specification's.
 */
import { createHash, randomBytes } from 'node:crypto';

export type ShaCryptAlgorithm = 'sha256' | 'sha512';

/** Rounds used when a hash names none (the specification's default). */
const ROUNDS_DEFAULT = 5000;
/** The specification clamps rounds= into [ROUNDS_MIN, ROUNDS_MAX]. */
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
/** Characters of salt used; longer salts are cut. */
const SALT_MAX = 16;

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * The byte triples of the final encoding (the specification's step 22):
 * bytes i, i + n and i + 2n of the digest, rotated right by i·k places, for
 * i from 0 to n − 1, with n = 10, k = 1 for SHA-256 and n = 21, k = 2 for
 * SHA-512 (the lists the specification prints: [0,10,20], [21,1,11],
 * [12,22,2], … and [0,21,42], [22,43,1], [44,2,23], …). The specification's
 * test vectors (users tests) hold them to its output.
 */
function encodingOrder(n: number, k: number): ReadonlyArray<readonly [number, number, number]> {
  return Array.from({ length: n }, (_, i) => {
    const bytes = [i, i + n, i + 2 * n];
    const r = (i * k) % 3;
    return [bytes[(3 - r) % 3]!, bytes[(4 - r) % 3]!, bytes[(5 - r) % 3]!] as const;
  });
}
const ORDER_SHA256 = encodingOrder(10, 1);
const ORDER_SHA512 = encodingOrder(21, 2);

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  while (n-- > 0) {
    out += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/** Repeats `block` to exactly `length` bytes (steps 16 and 20 of the specification). */
function stretch(block: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let off = 0; off < length; off += block.length) block.copy(out, off, 0, Math.min(block.length, length - off));
  return out;
}

export interface ParsedShaCrypt {
  algorithm: ShaCryptAlgorithm;
  rounds: number;
  /** true when the setting named rounds= (the output then names it too). */
  roundsCustom: boolean;
  salt: string;
}

/**
 * Parses `$5$[rounds=N$]salt[$hash]` or `$6$...`. Returns undefined when the
 * string is not a SHA-crypt setting.
 */
export function parseShaCryptSetting(setting: string): ParsedShaCrypt | undefined {
  let algorithm: ShaCryptAlgorithm;
  if (setting.startsWith('$5$')) algorithm = 'sha256';
  else if (setting.startsWith('$6$')) algorithm = 'sha512';
  else return undefined;
  let rest = setting.slice(3);
  let rounds = ROUNDS_DEFAULT;
  let roundsCustom = false;
  const m = /^rounds=(\d{1,10})\$/.exec(rest);
  if (m) {
    rounds = Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Number(m[1])));
    roundsCustom = true;
    rest = rest.slice(m[0].length);
  }
  const dollar = rest.indexOf('$');
  const salt = (dollar === -1 ? rest : rest.slice(0, dollar)).slice(0, SALT_MAX);
  return { algorithm, rounds, roundsCustom, salt };
}

/**
 * Computes the full crypt string (`$6$salt$hash`) of `password` for a setting
 * such as `$6$saltstring` or a complete hash (whose hash part is ignored).
 * Throws on a setting that is not `$5$`/`$6$`.
 */
export function shaCrypt(password: string | Buffer, setting: string): string {
  const p = parseShaCryptSetting(setting);
  if (p === undefined) throw new TypeError('not a SHA-crypt setting ($5$ or $6$)');
  const key = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const salt = Buffer.from(p.salt, 'utf8');
  const alg = p.algorithm;
  const hashLen = alg === 'sha256' ? 32 : 64;

  // Steps 4-8: digest B = H(key || salt || key).
  const b = createHash(alg).update(key).update(salt).update(key).digest();

  // Steps 1-3, 9-12: digest A.
  const a = createHash(alg).update(key).update(salt);
  let n = key.length;
  for (; n > hashLen; n -= hashLen) a.update(b);
  a.update(b.subarray(0, n));
  for (let i = key.length; i > 0; i >>= 1) a.update((i & 1) !== 0 ? b : key);
  const digestA = a.digest();

  // Steps 13-16: byte sequence P.
  const dp = createHash(alg);
  for (let i = 0; i < key.length; i++) dp.update(key);
  const pBytes = stretch(dp.digest(), key.length);

  // Steps 17-20: byte sequence S.
  const ds = createHash(alg);
  for (let i = 0; i < 16 + digestA[0]!; i++) ds.update(salt);
  const sBytes = stretch(ds.digest(), salt.length);

  // Step 21: the rounds.
  let c = digestA;
  for (let r = 0; r < p.rounds; r++) {
    const h = createHash(alg);
    h.update((r & 1) !== 0 ? pBytes : c);
    if (r % 3 !== 0) h.update(sBytes);
    if (r % 7 !== 0) h.update(pBytes);
    h.update((r & 1) !== 0 ? c : pBytes);
    c = h.digest();
  }

  // Step 22: the output string.
  let out = alg === 'sha256' ? '$5$' : '$6$';
  if (p.roundsCustom) out += `rounds=${p.rounds}$`;
  out += p.salt + '$';
  if (alg === 'sha256') {
    for (const [x, y, z] of ORDER_SHA256) out += b64From24(c[x]!, c[y]!, c[z]!, 4);
    out += b64From24(0, c[31]!, c[30]!, 3);
  } else {
    for (const [x, y, z] of ORDER_SHA512) out += b64From24(c[x]!, c[y]!, c[z]!, 4);
    out += b64From24(0, 0, c[63]!, 2);
  }
  return out;
}

/** A random salt of `length` characters from the crypt alphabet. */
export function randomCryptSalt(length = SALT_MAX): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ITOA64[byte & 0x3f];
  return out;
}
