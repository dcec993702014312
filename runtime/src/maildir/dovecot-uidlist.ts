/**
 * Dovecot's `dovecot-uidlist`: the IMAP UID of each Maildir file and the
 * mailbox's UIDVALIDITY (https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/maildir/).
 *
 * Version 3, as Dovecot 2.3 writes it:
 *
 *     3 V1796185774 N4 Ga0ac8a05ae9e0f6b445f000083ecc375
 *     1 W23 :1700000001.M1P1.test
 *     2 :1700000002.M2P1.test
 *
 * The header holds the version, then `<key><value>` fields in any order
 * (V: UIDVALIDITY, N: next UID, G: mailbox GUID). Each record is the UID,
 * extension fields (`S<size>`, `W<vsize>`, `P<pop3 uidl>`, `G<guid>`, ...)
 * and `:` with the base file name (the unique name, without `:2,` flags).
 *
 * Reading needs no lock: Dovecot replaces the file by rename, so a reader
 * sees an old or a new version, except that Dovecot may also append
 * records in place under its lock (a reader may then see a partial last
 * line: read again under the lock). Adding records is done as Dovecot does
 * when it recreates the file: under the dotlock `dovecot-uidlist.lock`
 * (created with O_EXCL), the new content written into the lock file itself,
 * which is then renamed over `dovecot-uidlist`. A lock older than Dovecot's stale timeout
 * for the uidlist (2 minutes: MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT) was left by
 * a process that died holding it, and is removed, as Dovecot removes it.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { MailboxUnavailableError } from './errors';
import { readMaildirFile } from './open-message';

const UIDLIST_FILE = 'dovecot-uidlist';
const UIDLIST_LOCK = 'dovecot-uidlist.lock';

/** Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT: a lock not touched for this long is stale, ms. 2 min. */
const LOCK_STALE_MS = 2 * 60 * 1000;
/** How long pop3d waits for a lock someone else holds before answering [SYS/TEMP], ms. 10 s. */
const LOCK_WAIT_MS = 10 * 1000;
/** Between two attempts at the lock, ms. */
const LOCK_POLL_MS = 100;
/** The largest UID or UIDVALIDITY (IMAP: a non-zero 32-bit number). */
const MAX_U32 = 0xffffffff;

export interface UidlistRecord {
  uid: number;
  /** Extension fields by key (`W` → `23`), as read. */
  ext: Map<string, string>;
  /** Base file name (unique name). */
  name: string;
}

export interface Uidlist {
  uidValidity: number;
  nextUid: number;
  /** The header fields, in order, as read or written (V and N kept up to date on write). */
  header: Array<[string, string]>;
  records: UidlistRecord[];
}

/** `dovecot-uidlist` cannot be used: torn, of another version, or unreadable. Sessions get [SYS/TEMP]. */
export class UidlistUnusableError extends MailboxUnavailableError {
  readonly reason = 'UIDLIST_UNUSABLE';
  constructor(
    file: string,
    why: string,
    options?: { cause?: unknown },
    /** The last line lacks its newline: torn, or being appended to by Dovecot right now. */
    readonly partial = false,
  ) {
    super(`${file}: ${why}`, options);
  }
}

/** Someone (Dovecot) held `dovecot-uidlist.lock` for longer than LOCK_WAIT_MS. Sessions get [SYS/TEMP]. */
class UidlistLockedError extends MailboxUnavailableError {
  readonly reason = 'UIDLIST_LOCKED';
  constructor(lock: string) {
    super(`${lock} is held by another process (waited ${LOCK_WAIT_MS / 1000} s)`);
  }
}

function u32(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= MAX_U32 ? n : undefined;
}

/**
 * Parses a version 3 uidlist. Throws UidlistUnusableError for anything
 * Dovecot would not have written: a last line without its newline (a torn
 * write), a bad header, a record out of order or at or above the next UID.
 */
export function parseUidlist(text: string, file: string): Uidlist {
  if (!text.endsWith('\n'))
    throw new UidlistUnusableError(file, 'the last line has no newline (a torn write)', undefined, true);
  const lines = text.slice(0, -1).split('\n');
  const fields = lines[0]!.split(' ');
  if (fields[0] !== '3')
    throw new UidlistUnusableError(file, `version ${JSON.stringify(fields[0])} is not supported (only version 3)`);
  const header: Array<[string, string]> = [];
  for (const f of fields.slice(1)) {
    if (f.length < 2) throw new UidlistUnusableError(file, `header field ${JSON.stringify(f)} is malformed`);
    header.push([f[0]!, f.slice(1)]);
  }
  const get = (key: string) => header.find(([k]) => k === key)?.[1];
  const uidValidity = u32(get('V'));
  const nextUid = u32(get('N'));
  if (uidValidity === undefined || nextUid === undefined)
    throw new UidlistUnusableError(file, 'the header lacks a valid V (UIDVALIDITY) or N (next UID)');
  const records: UidlistRecord[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(' :');
    const head = (colon === -1 ? '' : line.slice(0, colon)).split(' ');
    const uid = u32(head[0]);
    const name = colon === -1 ? '' : line.slice(colon + 2);
    if (uid === undefined || name === '' || name.includes('/'))
      throw new UidlistUnusableError(file, `line ${i + 1} is not "<uid> [fields] :<file name>"`);
    if (uid <= last) throw new UidlistUnusableError(file, `line ${i + 1}: UID ${uid} is out of order`);
    last = uid;
    const ext = new Map<string, string>();
    for (const f of head.slice(1)) if (f !== '') ext.set(f[0]!, f.slice(1));
    records.push({ uid, ext, name });
  }
  // Dovecot appends records without rewriting the header, so N may lag behind them (seen: "N1" above UID 3).
  return { uidValidity, nextUid: Math.max(nextUid, last + 1), header, records };
}

export function formatUidlist(list: Uidlist): string {
  const header = list.header.map(([k, v]) =>
    k === 'V' ? `V${list.uidValidity}` : k === 'N' ? `N${list.nextUid}` : k + v,
  );
  let out = `3 ${header.join(' ')}\n`;
  for (const r of list.records) {
    let ext = '';
    for (const [k, v] of r.ext) ext += ` ${k}${v}`;
    out += `${r.uid}${ext} :${r.name}\n`;
  }
  return out;
}

/** A new uidlist as Dovecot starts one: UIDVALIDITY is the current time, a random 128-bit mailbox GUID. */
function emptyUidlist(now = Date.now()): Uidlist {
  const uidValidity = Math.floor(now / 1000);
  return {
    uidValidity,
    nextUid: 1,
    header: [
      ['V', String(uidValidity)],
      ['N', '1'],
      ['G', randomBytes(16).toString('hex')],
    ],
    records: [],
  };
}

/** Reads `<maildir>/dovecot-uidlist`; undefined when there is none. */
export async function readUidlist(maildir: string): Promise<Uidlist | undefined> {
  const file = `${maildir}/${UIDLIST_FILE}`;
  let text: string;
  try {
    // Written by the Maildir's user too, so read as a message is: a FIFO or symlink here fails at once.
    text = await readMaildirFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UidlistUnusableError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  return parseUidlist(text, file);
}

/** Base file names not in `list`, in the order Dovecot gives them UIDs: delivery time, then name. */
function unrecorded(list: Uidlist | undefined, names: readonly string[]): string[] {
  const known = new Set(list?.records.map((r) => r.name));
  const fresh = [...new Set(names.filter((n) => !known.has(n)))];
  const time = (n: string) => Number(/^\d{1,15}/.exec(n)?.[0] ?? Infinity);
  return fresh.sort((a, b) => time(a) - time(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The uidlist of `maildir` with a record for each of `names` (base file
 * names): read as it is when it has them all, otherwise the missing ones are
 * added under Dovecot's lock (new UIDs from N, N raised) and the file is
 * replaced. Created, as Dovecot creates it, when missing. Throws
 * UidlistUnusableError or UidlistLockedError; never writes without the lock.
 */
export async function recordAll(maildir: string, names: readonly string[]): Promise<Uidlist> {
  let current: Uidlist | undefined | 'partial';
  try {
    current = await readUidlist(maildir);
  } catch (err) {
    // Dovecot appends new records in place, under its lock: a partial last line is read again under the lock.
    if (!(err instanceof UidlistUnusableError && err.partial)) throw err;
    current = 'partial';
  }
  if (current !== 'partial') {
    if (current !== undefined && unrecorded(current, names).length === 0) return current;
    if (current === undefined && names.length === 0) return emptyUidlist();
  }
  const lockPath = `${maildir}/${UIDLIST_LOCK}`;
  const { fh, mode, uid, gid } = await takeLock(maildir, lockPath);
  let renamed = false;
  try {
    // Read again under the lock: Dovecot may have added records since.
    const list = (await readUidlist(maildir)) ?? emptyUidlist();
    const fresh = unrecorded(list, names);
    if (fresh.length === 0) return list; // the lock file is removed in finally: nothing to write
    if (list.nextUid + fresh.length - 1 > MAX_U32)
      throw new UidlistUnusableError(`${maildir}/${UIDLIST_FILE}`, 'the next UID would pass 2^32-1');
    for (const name of fresh) list.records.push({ uid: list.nextUid++, ext: new Map(), name });
    await fh.writeFile(formatUidlist(list));
    // The owner and mode Dovecot gives the files of a mailbox: those of its directory (files without x bits).
    await fh.chmod(mode);
    if (process.getuid?.() === 0) await fh.chown(uid, gid);
    await fh.sync();
    await fh.close();
    await fsp.rename(lockPath, `${maildir}/${UIDLIST_FILE}`);
    renamed = true;
    return list;
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await fsp.unlink(lockPath).catch(() => undefined);
    }
  }
}

/** Creates the dotlock with O_EXCL, waiting up to LOCK_WAIT_MS for a live one and removing a stale one. */
async function takeLock(
  maildir: string,
  lockPath: string,
): Promise<{ fh: fsp.FileHandle; mode: number; uid: number; gid: number }> {
  const dir = await fsp.stat(maildir);
  const mode = dir.mode & 0o666;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
      return { fh, mode, uid: dir.uid, gid: dir.gid };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let mtimeMs: number;
    try {
      mtimeMs = (await fsp.stat(lockPath)).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // Dovecot's rule: a lock file not modified for the stale timeout belongs to a dead process.
    if (Date.now() - mtimeMs > LOCK_STALE_MS) {
      await fsp.unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) throw new UidlistLockedError(lockPath);
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}
