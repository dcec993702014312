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
import { type BigIntStats, closeSync, lstatSync, promises as fsp, readSync } from 'node:fs';
import * as path from 'node:path';
import { type Logger, nullLogger } from '../log.js';
import {
  InvalidMailboxUserError,
  InvalidMaildirPathError,
  MailboxInUseError,
  MailboxRefusedError,
  MailboxUnavailableError,
  MailStoreError,
  MessageUnavailableError,
} from './errors.js';
import type { UidlSource } from './dovecot-uidls.js';
import { FAILED, FsBatch, GONE, REFUSED } from './fs-batch.js';
import { type HeldMailboxLock, acquireMailboxLock } from './mailbox-lock.js';
import { isRefusedEntry, openMessage, openMessageSync } from './open-message.js';
import { Normaliser } from './normalise.js';
import { drained, type MessageSink } from './message-sink.js';
import { streamMessage } from './stream-message.js';
import { markSeen } from './seen-flag.js';
import { measureMessageFile } from './measure-message.js';

/** One message as listed for the session: fixed for the session's lifetime. */
export interface MessageInfo {
  /** RFC 1939 unique-id: 1-70 characters in 0x21-0x7E, stable across sessions. */
  readonly uid: string;
  /** Octets of the message as sent (CRLF line endings), before dot-stuffing. */
  readonly size: number;
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
  /** Sets the seen flag on messages (0-based indices) retrieved by a session that ended with QUIT; optional. */
  markSeen?(indices: readonly number[]): Promise<void>;
  /** Lets another session open the mailbox. Idempotent. */
  release(): void;
}

export interface MailStore {
  /**
   * Locks and scans the mailbox of `user`: `<root>/<user>/Maildir`, or
   * `<root>/<maildir>` when the user database names the Maildir. Rejects
   * with MailboxInUseError (`[IN-USE]`), InvalidMailboxUserError or
   * InvalidMaildirPathError (`[SYS/PERM]`) or MailboxUnavailableError
   * (`[SYS/TEMP]`).
   */
  open(user: string, maildir?: string): Promise<Mailbox>;
}

/** Largest read when sending a message, octets. 256 KiB. */
const SEND_CHUNK = 256 * 1024;
/** Messages smaller than this (as sent), and TOP's first read, are one synchronous call: see MaildirMailbox.writeAtOnce. 64 KiB. */
const SYNC_READ_MAX = 64 * 1024;
/** File system operations run at once during a scan or an expunge. */
const FS_CONCURRENCY = 8;
/** Message sizes remembered across sessions (Maildir files never change content). */
const SIZE_CACHE_ENTRIES = 200_000;
/** Files in a scan from which renames and measurements go to the worker thread in one batch. */
const BATCH_THRESHOLD = 64;
/** Mailbox listings remembered across sessions (see MaildirStore.scan). */
const LISTING_CACHE_ENTRIES = 10_000;
/** A directory modified less than this long ago may change again without its mtime changing, in ns. 1 s. */
const LISTING_DIRTY_NS = 1_000_000_000n;
/** Directory and file mode for what we create. */
const DIR_MODE = 0o700;
/** RFC 1939 section 7: "one to 70 characters in the range 0x21 to 0x7E". */
const UIDL_RE = /^[\x21-\x7e]{1,70}$/;

/** Mailboxes open in this process (Maildir paths as resolved at login: see MaildirStore.resolve): one session each. */
const openMailboxes = new Set<string>();
/** The lock files (mailbox-lock.ts) of those mailboxes: one session across processes and hosts. */
const heldLocks = new Map<string, HeldMailboxLock>();
/** Longest Maildir path a user database may name, in octets. */
const MAX_MAILDIR_PATH = 1024;

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

/** A mailbox listing kept across sessions, valid while `stamp` (the mtimes of new/ and cur/) holds. */
interface Listing {
  stamp: string;
  /** The stamp was not dirty and nothing moved while listing: an equal stamp means an unchanged mailbox. */
  trusted: boolean;
  /** `cur/<name>` (or `new/<name>` for a file that could not be moved). */
  files: readonly string[];
  messages: ReadonlyArray<MessageInfo>;
  totalSize: number;
  /** The names of `files` in cur/, while the listing is not trusted (see MaildirStore.sameNames). */
  curNames?: Set<string>;
}

interface ScanEntry {
  /** Path relative to the Maildir: `cur/<name>` or `new/<name>`. */
  rel: string;
  unique: string;
  time: number;
}

/**
 * Message sizes by mailbox, then by unique name: two lookups in maps keyed by
 * strings that already exist, instead of one by a concatenated key that must
 * be built and hashed per message at every scan. Bounded by the number of
 * sizes; the least recently scanned mailbox is forgotten first.
 */
class SizeCache {
  private readonly byDir = new Map<string, Map<string, number>>();
  private entries = 0;
  constructor(private readonly max: number) {}
  /** The sizes of one mailbox (created empty), marked most recently used. */
  of(dir: string): Map<string, number> {
    let sizes = this.byDir.get(dir);
    if (sizes === undefined) sizes = new Map();
    else this.byDir.delete(dir);
    this.byDir.set(dir, sizes);
    return sizes;
  }
  set(sizes: Map<string, number>, unique: string, size: number): void {
    if (!sizes.has(unique)) this.entries++;
    sizes.set(unique, size);
    while (this.entries > this.max && this.byDir.size > 1) {
      const [oldestDir, oldest] = this.byDir.entries().next().value!;
      this.entries -= oldest.size;
      this.byDir.delete(oldestDir);
    }
  }
  delete(dir: string, unique: string): void {
    if (this.byDir.get(dir)?.delete(unique)) this.entries--;
  }
}

export interface MaildirStoreOptions {
  /** Directory holding one directory per user. */
  root: string;
  log?: Logger;
  /** See SIZE_CACHE_ENTRIES. */
  sizeCacheEntries?: number;
  /** UIDLs from elsewhere (`--uidl dovecot`); default: the Maildir unique names. */
  uidls?: UidlSource;
  /** Flag retrieved messages seen at QUIT, as Dovecot's POP3 does (`--uidl dovecot`). Default false. */
  markRetrievedSeen?: boolean;
}

export class MaildirStore implements MailStore {
  readonly root: string;
  /** `root` with its symlinks resolved, at the first login (the root may be created after start). */
  private realRoot: string | undefined;
  private readonly log: Logger;
  private readonly sizes: SizeCache;
  /** The worker thread that renames and measures many files at once. */
  private readonly batch = new FsBatch();
  /** Listings of unchanged mailboxes, by Maildir path, least recently used first. */
  private readonly listings = new Map<string, Listing>();
  private readonly uidls: UidlSource | undefined;
  readonly markRetrievedSeen: boolean;

  constructor(opts: MaildirStoreOptions) {
    this.uidls = opts.uidls;
    this.markRetrievedSeen = opts.markRetrievedSeen ?? false;
    this.root = path.resolve(opts.root);
    this.log = opts.log ?? nullLogger;
    this.sizes = new SizeCache(opts.sizeCacheEntries ?? SIZE_CACHE_ENTRIES);
  }

  /**
   * `<root>/<user>/Maildir`. Throws InvalidMailboxUserError for a name that
   * cannot be a directory. The result is normalised and file names never
   * hold a "/", so paths below it are built by concatenation: path.join
   * normalises again each time, 20 ms for a first login to 10,000 messages.
   */
  mailboxPath(user: string, maildir?: string): string {
    if (maildir !== undefined) return maildirBelowRoot(this.root, maildir);
    if (!isValidMailboxUser(user)) throw new InvalidMailboxUserError(user);
    return path.join(this.root, user, 'Maildir');
  }

  async open(user: string, maildir?: string): Promise<Mailbox> {
    let dir: string;
    try {
      dir = await this.resolve(user, this.mailboxPath(user, maildir));
    } catch (err) {
      throw this.openFailed(user, err);
    }
    // Keyed on the resolved path, checked and taken with no await between, so two logins cannot both pass.
    if (openMailboxes.has(dir)) throw new MailboxInUseError(user);
    openMailboxes.add(dir);
    try {
      await this.lockFile(user, dir);
      return await this.scan(user, dir);
    } catch (err) {
      heldLocks.get(dir)?.release();
      heldLocks.delete(dir);
      openMailboxes.delete(dir);
      throw this.openFailed(user, err);
    }
  }

  private openFailed(user: string, err: unknown): MailStoreError {
    if (err instanceof MailboxRefusedError) this.log.warn('mailbox_refused', { user, reason: err.message });
    if (err instanceof MailStoreError) return err;
    this.log.error('mailbox_open_failed', { user, error: err });
    return new MailboxUnavailableError(`cannot open the mailbox of ${JSON.stringify(user)}`, { cause: err });
  }

  /** Takes the mailbox's lock file (creating a missing Maildir first); MailboxInUseError when held elsewhere. */
  private async lockFile(user: string, dir: string): Promise<void> {
    let lock: HeldMailboxLock | undefined;
    try {
      lock = acquireMailboxLock(dir, this.log);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      await this.create(dir);
      lock = acquireMailboxLock(dir, this.log);
    }
    if (lock === undefined) throw new MailboxInUseError(user);
    heldLocks.set(dir, lock);
  }

  /**
   * The Maildir `expected` (`<root>/<user>/Maildir`, or the one the user
   * database names below the root), resolved once per login, created on a
   * first login. It must resolve to itself under the resolved root: a
   * symlinked `<user>` or `Maildir` (to another user's Maildir, say) is
   * refused, never followed. new/ and cur/ are checked in stamp(). The result
   * is what the locks are keyed on and every path is built from.
   */
  private async resolve(user: string, expected: string): Promise<string> {
    this.realRoot ??= await fsp.realpath(this.root).catch(() => undefined);
    let real: string;
    try {
      real = await fsp.realpath(expected);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      await this.create(expected);
      this.realRoot ??= await fsp.realpath(this.root);
      real = await fsp.realpath(expected);
    }
    const wanted = path.join(this.realRoot ?? this.root, path.relative(this.root, expected));
    if (real !== wanted) throw new MailboxRefusedError(user, 'it is a symlink (or under one) below the Maildir root');
    return real;
  }

  /**
   * Lists the mailbox. A listing is kept across sessions while the
   * modification times of new/ and cur/ stay the same: every delivery,
   * move, flag change or removal in a Maildir is a create, rename or unlink in
   * one of them, which changes its mtime. As Dovecot does, a directory
   * changed within the last LISTING_DIRTY_MS is not trusted (a second change
   * in the same clock tick would keep its mtime). So a login to an unchanged
   * mailbox costs two stat() calls, not two readdir() and a sort.
   */
  private async scan(user: string, dir: string): Promise<Mailbox> {
    const newDir = path.join(dir, 'new');
    const curDir = path.join(dir, 'cur');
    let stamp = this.stamp(user, newDir, curDir);
    if (stamp === undefined) {
      await this.create(dir);
      stamp = this.stamp(user, newDir, curDir);
      if (stamp === undefined) throw new MailboxUnavailableError(`the Maildir ${dir} cannot be created`);
    }
    // UIDLs from another source (dovecot-uidlist) may change without new/ or cur/ changing: no listing is reused.
    const cached = this.uidls === undefined ? this.listings.get(dir) : undefined;
    if (cached !== undefined && cached.trusted && cached.stamp === stamp.key)
      return this.reuse(dir, user, cached, stamp);

    // A listing made while the directories were still changing (or before a change that kept every name):
    // when the names are the same, so are the messages (a Maildir file's content never changes), and the
    // listing is reused without sorting, measuring or computing UIDLs again.
    if (cached !== undefined && (await this.sameNames(newDir, curDir, cached)))
      return this.reuse(dir, user, cached, stamp);
    const curFiles = await this.listMessageFiles(curDir);
    const fresh = await this.listMessageFiles(newDir);
    const inCur = new Set(curFiles);
    const moved = await this.moveAllToCur(dir, fresh, inCur);
    const entries: ScanEntry[] = [];
    for (const rel of moved) if (rel !== undefined) entries.push(entryFor(rel));
    for (const name of curFiles) entries.push(entryFor('cur/' + name));

    // Order by delivery time, then by name: stable across sessions.
    entries.sort((a, b) => a.time - b.time || cmp(a.unique, b.unique) || cmp(a.rel, b.rel));

    const sizes = await this.sizesOf(dir, entries);
    const external = await this.uidls?.uidlsFor(
      dir,
      entries.filter((_, i) => sizes[i] !== undefined).map((e) => e.unique),
    );
    const files: string[] = [];
    const messages: MessageInfo[] = [];
    const seen = new Set<string>();
    let totalSize = 0;
    for (let i = 0; i < entries.length; i++) {
      const size = sizes[i];
      if (size === undefined) continue; // vanished during the scan
      const e = entries[i]!;
      let uid = external?.[messages.length] ?? uidlFor(e.unique);
      // Two files with one unique name (a copy made by hand): the later one gets a hash of its path.
      if (seen.has(uid)) uid = createHash('sha1').update(e.rel).digest('hex');
      seen.add(uid);
      files.push(e.rel);
      messages.push({ uid, size });
      totalSize += size;
    }
    this.log.info('mailbox_opened', { user, messages: messages.length, octets: totalSize, moved: fresh.length });
    // Trusted on its stamp alone only when nothing moved (a move changed the mtimes read before it) and the
    // stamp is not dirty; otherwise kept to be checked against the names next time.
    const trusted = fresh.length === 0 && !stamp.dirty;
    this.listings.delete(dir);
    // The set for the check by names at the next login is built now, when that login is likely to come soon.
    this.listings.set(dir, {
      stamp: stamp.key,
      trusted,
      files,
      messages,
      totalSize,
      curNames: trusted ? undefined : curNamesOf(files),
    });
    if (this.listings.size > LISTING_CACHE_ENTRIES) this.listings.delete(this.listings.keys().next().value!);
    return new MaildirMailbox(dir, files, messages, totalSize, this, this.log.child({ user }));
  }

  private reuse(dir: string, user: string, listing: Listing, stamp: { key: string; dirty: boolean }): Mailbox {
    if (listing.stamp !== stamp.key || !listing.trusted) {
      listing.stamp = stamp.key;
      listing.trusted = !stamp.dirty;
      if (listing.trusted) listing.curNames = undefined;
    }
    this.listings.delete(dir); // most recently used last
    this.listings.set(dir, listing);
    return new MaildirMailbox(dir, listing.files, listing.messages, listing.totalSize, this, this.log.child({ user }));
  }

  /**
   * The mtimes of new/ and cur/ as one key, and whether either changed too
   * recently to trust; undefined when one is missing. Synchronous on
   * purpose: two stat() calls of hot directory entries cost microseconds,
   * while two thread-pool round trips cost a sixth of a whole session's CPU
   * (profile of scenario a). The one case where this blocks the event loop
   * noticeably is a Maildir on a hung network file system; use fsp.stat here
   * if Maildirs may live on NFS. lstat: new/ or cur/ as a symlink (to
   * another user's) is refused, as a symlinked Maildir is.
   */
  private stamp(user: string, newDir: string, curDir: string): { key: string; dirty: boolean } | undefined {
    let n: BigIntStats;
    let c: BigIntStats;
    try {
      n = lstatSync(newDir, { bigint: true });
      c = lstatSync(curDir, { bigint: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
    if (!n.isDirectory() || !c.isDirectory())
      throw new MailboxRefusedError(user, 'its new/ or cur/ is not a directory (a symlink?)');
    const newest = n.mtimeNs > c.mtimeNs ? n.mtimeNs : c.mtimeNs;
    const dirty = BigInt(Date.now()) * 1_000_000n - newest < LISTING_DIRTY_NS;
    return { key: `${n.mtimeNs}:${c.mtimeNs}:${n.ino}:${c.ino}`, dirty };
  }

  /** Creates the user's Maildir and the folders above it under the root (first login of a user who never got mail). */
  private async create(dir: string): Promise<void> {
    try {
      await fsp.stat(this.root);
    } catch (err) {
      throw new MailboxUnavailableError(`the Maildir root ${this.root} is not accessible`, { cause: err });
    }
    let at = this.root;
    for (const segment of path.relative(this.root, dir).split(path.sep)) {
      at = path.join(at, segment);
      await mkdirIfMissing(at);
    }
    for (const sub of ['cur', 'new', 'tmp']) await mkdirIfMissing(path.join(dir, sub));
  }

  /** A listing is no longer valid (messages removed). */
  forget(dir: string): void {
    this.listings.delete(dir);
  }

  /** Forgets a message's cached size (it was removed). */
  forgetSize(dir: string, unique: string): void {
    this.sizes.delete(dir, unique);
  }

  /**
   * Whether new/ has no message and cur/ holds exactly the files of
   * `listing`. Names only, without a file type each (a directory in cur/
   * makes the answer false, and the full listing then skips it); the
   * listing's names are kept as a set while it is not trusted, since such a
   * mailbox is checked again at each login.
   */
  private async sameNames(newDir: string, curDir: string, listing: Listing): Promise<boolean> {
    for (const name of await fsp.readdir(newDir)) if (!name.startsWith('.')) return false;
    listing.curNames ??= curNamesOf(listing.files);
    const names = listing.curNames;
    if (names === undefined) return false;
    let found = 0;
    for (const name of await fsp.readdir(curDir)) {
      if (name.startsWith('.')) continue;
      if (!names.has(name)) return false;
      found++;
    }
    return found === names.size;
  }

  /**
   * Names of message files in new/ or cur/: regular files only, no dotfiles.
   * A symlink, FIFO or device is not a message (see open-message.ts) and is
   * never opened; the file type is readdir's d_type (Node lstat()s an entry
   * whose type the file system does not report).
   */
  private async listMessageFiles(sub: string): Promise<string[]> {
    const out: string[] = [];
    for (const d of await fsp.readdir(sub, { withFileTypes: true })) {
      if (d.name.startsWith('.')) continue;
      if (d.isFile()) out.push(d.name);
      else if (!d.isDirectory())
        this.log.warn('maildir_entry_skipped', { dir: sub, file: d.name, reason: 'not a regular file' });
    }
    return out;
  }

  /**
   * Moves new/X to cur/X:2, and returns its new relative path; keeps it in new/
   * (and serves it from there) when the move fails or the target exists
   * (rename would replace it); undefined when the file is gone.
   */
  private async moveToCur(dir: string, name: string, inCur: ReadonlySet<string>): Promise<string | undefined> {
    const target = name.includes(':') ? name : name + ':2,';
    // cur/ was just listed: no lstat per file to learn whether the target exists.
    if (inCur.has(target)) {
      this.log.warn('maildir_move_skipped', { dir, file: name, reason: 'target exists' });
      return 'new/' + name;
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

  /** moveToCur for each name; many at once go to the worker thread in one batch, which measures them too. */
  private async moveAllToCur(
    dir: string,
    names: string[],
    inCur: ReadonlySet<string>,
  ): Promise<Array<string | undefined>> {
    if (names.length < BATCH_THRESHOLD)
      return mapLimit(names, FS_CONCURRENCY, (name) => this.moveToCur(dir, name, inCur));
    const out = new Array<string | undefined>(names.length);
    const pairs: Array<[string, string]> = [];
    const slots: number[] = [];
    names.forEach((name, i) => {
      const target = name.includes(':') ? name : name + ':2,';
      if (inCur.has(target)) {
        out[i] = 'new/' + name;
        return;
      }
      pairs.push([`${dir}/new/${name}`, `${dir}/cur/${target}`]);
      slots.push(i);
    });
    const results = await this.batch.renameAndMeasure(pairs);
    const known = this.sizes.of(dir);
    slots.forEach((i, k) => {
      const name = names[i]!;
      const r = results[k]!;
      if (r === GONE) out[i] = undefined;
      else if (r === FAILED) out[i] = 'new/' + name;
      else {
        out[i] = 'cur/' + pairs[k]![1].slice(dir.length + 5);
        if (r >= 0) this.sizes.set(known, uniqueName(name), r);
      }
    });
    return out;
  }

  /** Sizes of the entries: from the name or the cache without I/O; the rest measured (many at once in the worker). */
  private async sizesOf(dir: string, entries: readonly ScanEntry[]): Promise<Array<number | undefined>> {
    const sizes = new Array<number | undefined>(entries.length);
    const known = this.sizes.of(dir);
    const unknown: number[] = [];
    entries.forEach((e, i) => {
      const size = known.get(e.unique) ?? sizeFromName(e.unique);
      if (size === undefined) unknown.push(i);
      else sizes[i] = size;
    });
    if (unknown.length === 0) return sizes;
    if (unknown.length < BATCH_THRESHOLD) {
      const measured = await mapLimit(unknown, FS_CONCURRENCY, (i) => this.sizeOf(dir, entries[i]!, known));
      unknown.forEach((i, k) => (sizes[i] = measured[k]));
      return sizes;
    }
    const results = await this.batch.measure(unknown.map((i) => `${dir}/${entries[i]!.rel}`));
    unknown.forEach((i, k) => {
      const r = results[k]!;
      if (r === FAILED) throw new Error(`cannot read ${dir}/${entries[i]!.rel}`);
      if (r === GONE) return;
      if (r === REFUSED) {
        this.skipped(dir, entries[i]!.rel);
        return;
      }
      sizes[i] = r;
      this.sizes.set(known, entries[i]!.unique, r);
    });
    return sizes;
  }

  /** Measures one message not known from its name or the cache. */
  private async sizeOf(dir: string, e: ScanEntry, known: Map<string, number>): Promise<number | undefined> {
    try {
      const size = await measureMessageFile(path.join(dir, e.rel));
      this.sizes.set(known, e.unique, size);
      return size;
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      if (isRefusedEntry(err)) {
        this.skipped(dir, e.rel);
        return undefined;
      }
      throw err;
    }
  }

  /** A listed entry that turned out not to be a regular file when opened (swapped in after readdir). */
  private skipped(dir: string, rel: string): void {
    this.log.warn('maildir_entry_skipped', { dir, file: rel, reason: 'not a regular file when opened' });
  }
}

/**
 * `<root>/<maildir>` for a Maildir named by the user database (PostfixAdmin's
 * `example.org/user/`): relative, no `.` or `..` segment, no control
 * character, so it can never name a directory outside the root (symlinks
 * inside the root are the Maildir code's concern). Throws
 * InvalidMaildirPathError.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_MAILDIR_CHAR = /[\u0000-\u001f\u007f\\]/;

export function maildirBelowRoot(root: string, maildir: string): string {
  const bad = maildir === '' || Buffer.byteLength(maildir) > MAX_MAILDIR_PATH || UNSAFE_MAILDIR_CHAR.test(maildir);
  const segments = maildir.split('/').filter((s) => s !== '');
  if (bad || maildir.startsWith('/') || segments.length === 0 || segments.some((s) => s === '.' || s === '..'))
    throw new InvalidMaildirPathError(maildir);
  return path.join(root, ...segments);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The names in cur/ of a listing's files; undefined when one is still in new/ (then names cannot match). */
function curNamesOf(files: readonly string[]): Set<string> | undefined {
  const names = new Set<string>();
  for (const rel of files) {
    if (!rel.startsWith('cur/')) return undefined;
    names.add(rel.slice(4));
  }
  return names;
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
    private readonly store: MaildirStore,
    private readonly log: Logger,
  ) {}

  async write(index: number, out: MessageSink, opts: WriteOptions = {}): Promise<void> {
    const rel = this.files[index];
    if (rel === undefined) throw new RangeError(`no message at index ${index}`);
    const file = `${this.dir}/${rel}`;
    const size = this.messages[index]!.size;
    if ((size < SYNC_READ_MAX || opts.bodyLines !== undefined) && this.writeAtOnce(file, rel, size, out, opts)) return;
    let fh: fsp.FileHandle;
    try {
      fh = await openMessage(file);
    } catch (err) {
      throw this.openFailed(rel, err);
    }
    try {
      if (opts.bodyLines === undefined) return await streamMessage(fh, out);
      const norm = new Normaliser({ dotStuff: true, bodyLines: opts.bodyLines });
      // Big reads for a big message (fewer read and write calls), no more than the message for a small one.
      const chunkSize = Math.min(SEND_CHUNK, this.messages[index]!.size + 1);
      let buf = Buffer.allocUnsafe(chunkSize);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        const data = norm.transform(chunk);
        // The socket may hold on to what it was given until sent: a slice of `buf` means a fresh read buffer.
        if (data.buffer === buf.buffer) buf = Buffer.allocUnsafe(chunkSize);
        if (data.length > 0 && !out.write(data)) await drained(out);
        // TOP is complete, or a short read of a regular file: its end.
        if (norm.done) return;
        if (bytesRead < chunkSize) break;
      }
      const tail = norm.finishBuffer();
      if (tail !== undefined && !out.write(tail)) await drained(out);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * A small message, or the head of a big one that TOP needs, in one
   * synchronous open, read and close: on a local file system a few
   * microseconds, against three thread-pool round trips and their promises,
   * which were a fifth of a whole session's CPU (profile of the benchmark's
   * scenario a). The cost is that a read that has to wait for the disk blocks
   * the event loop for that long (as it blocks a Dovecot process serving many
   * clients); Maildirs are expected on a local file system (README).
   * Returns false, having written nothing, when that one read was not enough
   * (the file is bigger than its listed size says, or TOP needs more): the
   * message is then streamed. Throws as write() does.
   */
  private writeAtOnce(file: string, rel: string, size: number, out: MessageSink, opts: WriteOptions): boolean {
    let fd: number;
    try {
      fd = openMessageSync(file);
    } catch (err) {
      throw this.openFailed(rel, err);
    }
    // The file (LF or CRLF line endings) is never longer than its size as sent (CRLF): a read of one more
    // octet than that, shorter than asked, has the whole file.
    const want = Math.min(size + 1, SYNC_READ_MAX);
    let data: Buffer;
    try {
      const buf = Buffer.allocUnsafe(want);
      data = buf.subarray(0, readSync(fd, buf, 0, want, 0));
    } finally {
      closeSync(fd);
    }
    const whole = data.length < want;
    const norm = new Normaliser({ dotStuff: true, bodyLines: opts.bodyLines });
    const body = norm.transform(data);
    if (!whole && !norm.done) return false;
    const tail = norm.done ? undefined : norm.finishBuffer();
    const output = tail === undefined ? body : Buffer.concat([body, tail]);
    if (output.length > 0) out.write(output);
    return true;
  }

  /** Logs a message file that cannot be opened; the error for write() to reject with (nothing was sent). */
  private openFailed(rel: string, err: unknown): MessageUnavailableError {
    this.log.warn('message_open_failed', { file: rel, error: err });
    return new MessageUnavailableError(`message file ${rel} cannot be read`, { cause: err });
  }

  async expunge(indices: readonly number[]): Promise<{ failed: number }> {
    let failed = 0;
    this.store.forget(this.dir);
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
      this.store.forgetSize(this.dir, uniqueName(rel.slice(4)));
    });
    return { failed };
  }

  async markSeen(indices: readonly number[]): Promise<void> {
    if (!this.store.markRetrievedSeen || indices.length === 0) return;
    this.store.forget(this.dir);
    await markSeen(
      this.dir,
      indices.map((i) => this.files[i]).filter((rel) => rel !== undefined),
    );
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldLocks.get(this.dir)?.release();
    heldLocks.delete(this.dir);
    openMailboxes.delete(this.dir);
  }
}
