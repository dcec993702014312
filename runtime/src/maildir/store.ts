/**
 * Maildir mail store: the mailbox of user u is `<root>/u/Maildir` with new/,
 * cur/ and tmp/ (https://cr.yp.to/proto/maildir.html).
 *
 * The only changes made to a Maildir are a rename of new/X to cur/X:2, at
 * open (as Dovecot does) and an unlink per message deleted by a completed
 * QUIT. A message file is never rewritten, so a crash at any moment loses no
 * message that was not deleted.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { type Logger, nullLogger } from '../log.js';
import {
  InvalidMailboxUserError,
  MailboxInUseError,
  MailboxUnavailableError,
  MailStoreError,
  MessageUnavailableError,
} from './errors.js';
import { Normaliser, totalLength } from './normalise.js';

/** One message as listed for the session: fixed for the session's lifetime. */
export interface MessageInfo {
  /** RFC 1939 unique-id: 1-70 characters in 0x21-0x7E, stable across sessions. */
  readonly uid: string;
  /** Octets of the message as sent (CRLF line endings), before dot-stuffing. */
  readonly size: number;
}

/** What message bytes are written to: a socket, or anything with write() and 'drain'/'close'/'error'. */
export interface MessageSink {
  write(chunk: Buffer): boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  removeListener(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  readonly destroyed?: boolean;
}

export interface WriteOptions {
  /** TOP: body lines after the header and its blank line. Undefined: the whole message (RETR). */
  bodyLines?: number;
}

export interface Mailbox {
  /** The messages, ordered by delivery time then name; message number n is index n-1. */
  readonly messages: ReadonlyArray<MessageInfo>;
  /** Sum of the message sizes. */
  readonly totalSize: number;
  /**
   * Streams message `index` (0-based) to `out`: CRLF-normalised, dot-stuffed,
   * never the terminating ".\r\n". Respects backpressure (waits for 'drain').
   * Rejects with MessageUnavailableError if the file cannot be opened (nothing
   * was written then), or with another error if the output closed or a read
   * failed midway.
   */
  write(index: number, out: MessageSink, opts?: WriteOptions): Promise<void>;
  /** Removes messages (0-based indices). A file already gone counts as removed. */
  expunge(indices: readonly number[]): Promise<{ failed: number }>;
  /** Lets another session open the mailbox. Idempotent. */
  release(): void;
}

export interface MailStore {
  /**
   * Locks and scans the mailbox of `user`. Rejects with MailboxInUseError
   * (`[IN-USE]`), InvalidMailboxUserError (`[SYS/PERM]`) or
   * MailboxUnavailableError (`[SYS/TEMP]`).
   */
  open(user: string): Promise<Mailbox>;
}

/** The output closed while a message was being written. */
export class SinkClosedError extends Error {
  readonly code = 'SINK_CLOSED';
  constructor() {
    super('the output closed while a message was being written');
    this.name = 'SinkClosedError';
  }
}

/** Bytes read from a message file at a time. 64 KiB. */
const READ_CHUNK = 64 * 1024;
/** File system operations run at once during a scan or an expunge. */
const FS_CONCURRENCY = 8;
/** Message sizes remembered across sessions (Maildir files never change content). */
const SIZE_CACHE_ENTRIES = 200_000;
/** Directory and file mode for what we create. */
const DIR_MODE = 0o700;
/** RFC 1939 section 7: "one to 70 characters in the range 0x21 to 0x7E". */
const UIDL_RE = /^[\x21-\x7e]{1,70}$/;

/** Mailboxes open in this process (resolved Maildir paths): one session each. */
const openMailboxes = new Set<string>();

/**
 * Whether `user` can name a directory under the Maildir root: 1-255 octets,
 * not `.` or `..`, no `/`, NUL or other control character.
 */
export function isValidMailboxUser(user: string): boolean {
  if (user === '' || user === '.' || user === '..' || Buffer.byteLength(user) > 255) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f\u007f/]/.test(user);
}

/** The unique name of a Maildir file: the part before the ":" info. */
export function uniqueName(file: string): string {
  const colon = file.indexOf(':');
  return colon === -1 ? file : file.slice(0, colon);
}

/** The RFC 1939 unique-id for a unique name: the name itself when it fits, else a hash of it. */
export function uidlFor(unique: string): string {
  return UIDL_RE.test(unique) ? unique : createHash('sha1').update(unique).digest('hex');
}

/** Dovecot's `,W=<n>` (size with CRLF line endings) from a unique name. */
function sizeFromName(unique: string): number | undefined {
  const m = /,W=(\d{1,15})(?=,|$)/.exec(unique);
  return m ? Number(m[1]) : undefined;
}

/** Delivery time, in seconds: the numeric prefix of the unique name (Infinity when none). */
function deliveryTime(unique: string): number {
  const m = /^\d{1,15}/.exec(unique);
  return m ? Number(m[0]) : Infinity;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function mkdirIfMissing(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: DIR_MODE });
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
}

/** Resolves when `out` drains; rejects if it closes or fails first. */
function drained(out: MessageSink): Promise<void> {
  if (out.destroyed === true) return Promise.reject(new SinkClosedError());
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new SinkClosedError());
    };
    const cleanup = (): void => {
      out.removeListener('drain', onDrain);
      out.removeListener('close', onClose);
      out.removeListener('error', onClose);
    };
    out.once('drain', onDrain);
    out.once('close', onClose);
    out.once('error', onClose);
  });
}

/**
 * Octets of a message file as sent: CRLF line endings, a newline added to a
 * last line without one, no dot-stuffing. Streams the file once.
 */
export async function measureMessageFile(file: string): Promise<number> {
  const fh = await fsp.open(file, 'r');
  try {
    const norm = new Normaliser({ dotStuff: false });
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const pieces: Buffer[] = [];
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      pieces.length = 0;
      norm.push(buf.subarray(0, bytesRead), pieces);
      size += totalLength(pieces);
    }
    pieces.length = 0;
    norm.finish(pieces);
    return size + totalLength(pieces);
  } finally {
    await fh.close();
  }
}

interface ScanEntry {
  /** Path relative to the Maildir: `cur/<name>` or `new/<name>`. */
  rel: string;
  unique: string;
  time: number;
}

/** A bounded map from message key to size, oldest forgotten first. */
class SizeCache {
  private readonly map = new Map<string, number>();
  constructor(private readonly max: number) {}
  get(key: string): number | undefined {
    return this.map.get(key);
  }
  set(key: string, size: number): void {
    this.map.set(key, size);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

export interface MaildirStoreOptions {
  /** Directory holding one directory per user. */
  root: string;
  log?: Logger;
  /** See SIZE_CACHE_ENTRIES. */
  sizeCacheEntries?: number;
}

export class MaildirStore implements MailStore {
  readonly root: string;
  private readonly log: Logger;
  private readonly sizes: SizeCache;

  constructor(opts: MaildirStoreOptions) {
    this.root = path.resolve(opts.root);
    this.log = opts.log ?? nullLogger;
    this.sizes = new SizeCache(opts.sizeCacheEntries ?? SIZE_CACHE_ENTRIES);
  }

  /** `<root>/<user>/Maildir`. Throws InvalidMailboxUserError for a name that cannot be a directory. */
  mailboxPath(user: string): string {
    if (!isValidMailboxUser(user)) throw new InvalidMailboxUserError(user);
    return path.join(this.root, user, 'Maildir');
  }

  async open(user: string): Promise<Mailbox> {
    const dir = this.mailboxPath(user);
    // Taken synchronously, before any await, so two logins cannot both pass the check.
    if (openMailboxes.has(dir)) throw new MailboxInUseError(user);
    openMailboxes.add(dir);
    try {
      return await this.scan(user, dir);
    } catch (err) {
      openMailboxes.delete(dir);
      if (err instanceof MailStoreError) throw err;
      this.log.error('mailbox_open_failed', { user, error: err });
      throw new MailboxUnavailableError(`cannot open the mailbox of ${JSON.stringify(user)}`, { cause: err });
    }
  }

  private async scan(user: string, dir: string): Promise<Mailbox> {
    try {
      await fsp.stat(this.root);
    } catch (err) {
      throw new MailboxUnavailableError(`the Maildir root ${this.root} is not accessible`, { cause: err });
    }
    await mkdirIfMissing(path.join(this.root, user));
    await mkdirIfMissing(dir);
    for (const sub of ['cur', 'new', 'tmp']) await mkdirIfMissing(path.join(dir, sub));

    const entries: ScanEntry[] = [];
    const fresh = await this.listMessageFiles(path.join(dir, 'new'));
    const moved = await mapLimit(fresh, FS_CONCURRENCY, (name) => this.moveToCur(dir, name));
    for (const rel of moved) if (rel !== undefined && rel.startsWith('new/')) entries.push(entryFor(rel));
    for (const name of await this.listMessageFiles(path.join(dir, 'cur'))) entries.push(entryFor('cur/' + name));

    // Order by delivery time, then by name: stable across sessions.
    entries.sort((a, b) => a.time - b.time || cmp(a.unique, b.unique) || cmp(a.rel, b.rel));

    const sizes = await mapLimit(entries, FS_CONCURRENCY, (e) => this.sizeOf(dir, e));
    const files: string[] = [];
    const messages: MessageInfo[] = [];
    const seen = new Set<string>();
    let totalSize = 0;
    for (let i = 0; i < entries.length; i++) {
      const size = sizes[i];
      if (size === undefined) continue; // vanished during the scan
      const e = entries[i]!;
      let uid = uidlFor(e.unique);
      // Two files with one unique name (a copy made by hand): the later one gets a hash of its path.
      if (seen.has(uid)) uid = createHash('sha1').update(e.rel).digest('hex');
      seen.add(uid);
      files.push(e.rel);
      messages.push({ uid, size });
      totalSize += size;
    }
    this.log.info('mailbox_opened', { user, messages: messages.length, octets: totalSize, moved: fresh.length });
    return new MaildirMailbox(dir, files, messages, totalSize, this.sizes, this.log.child({ user }));
  }

  /** Names of message files in new/ or cur/: no dotfiles, no directories. */
  private async listMessageFiles(sub: string): Promise<string[]> {
    const out: string[] = [];
    for (const d of await fsp.readdir(sub, { withFileTypes: true })) {
      if (d.name.startsWith('.')) continue;
      if (d.isFile() || d.isSymbolicLink()) out.push(d.name);
    }
    return out;
  }

  /**
   * Moves new/X to cur/X:2, and returns its new relative path; keeps it in new/
   * (and serves it from there) when the move fails or the target exists
   * (rename would replace it); undefined when the file is gone.
   */
  private async moveToCur(dir: string, name: string): Promise<string | undefined> {
    const target = name.includes(':') ? name : name + ':2,';
    try {
      await fsp.lstat(path.join(dir, 'cur', target));
      this.log.warn('maildir_move_skipped', { dir, file: name, reason: 'target exists' });
      return 'new/' + name;
    } catch (err) {
      if (errno(err) !== 'ENOENT') return 'new/' + name;
    }
    try {
      await fsp.rename(path.join(dir, 'new', name), path.join(dir, 'cur', target));
      return 'cur/' + target;
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      this.log.warn('maildir_move_failed', { dir, file: name, error: err });
      return 'new/' + name;
    }
  }

  private async sizeOf(dir: string, e: ScanEntry): Promise<number | undefined> {
    const named = sizeFromName(e.unique);
    if (named !== undefined) return named;
    const key = dir + '\0' + e.unique;
    const cached = this.sizes.get(key);
    if (cached !== undefined) return cached;
    try {
      const size = await measureMessageFile(path.join(dir, e.rel));
      this.sizes.set(key, size);
      return size;
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function entryFor(rel: string): ScanEntry {
  const unique = uniqueName(rel.slice(4));
  return { rel, unique, time: deliveryTime(unique) };
}

class MaildirMailbox implements Mailbox {
  private released = false;

  constructor(
    private readonly dir: string,
    private readonly files: readonly string[],
    readonly messages: ReadonlyArray<MessageInfo>,
    readonly totalSize: number,
    private readonly sizes: SizeCache,
    private readonly log: Logger,
  ) {}

  async write(index: number, out: MessageSink, opts: WriteOptions = {}): Promise<void> {
    const rel = this.files[index];
    if (rel === undefined) throw new RangeError(`no message at index ${index}`);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path.join(this.dir, rel), 'r');
    } catch (err) {
      this.log.warn('message_open_failed', { file: rel, error: err });
      throw new MessageUnavailableError(`message file ${rel} cannot be read`, { cause: err });
    }
    try {
      const norm = new Normaliser({ dotStuff: true, bodyLines: opts.bodyLines });
      const pieces: Buffer[] = [];
      for (;;) {
        // A fresh buffer per read: the socket may hold on to it until sent.
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        pieces.length = 0;
        const done = norm.push(chunk, pieces);
        const data = !norm.modified && !done ? chunk : Buffer.concat(pieces);
        if (data.length > 0 && !out.write(data)) await drained(out);
        if (done) return;
      }
      pieces.length = 0;
      norm.finish(pieces);
      if (pieces.length > 0 && !out.write(Buffer.concat(pieces))) await drained(out);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async expunge(indices: readonly number[]): Promise<{ failed: number }> {
    let failed = 0;
    await mapLimit(indices, FS_CONCURRENCY, async (i) => {
      const rel = this.files[i];
      if (rel === undefined) return;
      try {
        await fsp.unlink(path.join(this.dir, rel));
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        failed++;
        this.log.error('message_delete_failed', { file: rel, error: err });
        return;
      }
      this.sizes.delete(this.dir + '\0' + uniqueName(rel.slice(4)));
    });
    return { failed };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    openMailboxes.delete(this.dir);
  }
}
