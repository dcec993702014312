/**
 * The scan of a Maildir at login, and what it remembers across sessions: a
 * listing per mailbox (reused while new/ and cur/ are unchanged) and message
 * sizes (Maildir files never change content). The scan moves new/X to
 * cur/X:2, as Dovecot does, and measures what its name does not tell.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, lstatSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log';
import { MailboxRefusedError, MailboxUnavailableError } from './errors';
import type { UidlSource } from './dovecot-uidls';
import { FAILED, FsBatch, GONE, REFUSED } from './fs-batch';
import { FS_CONCURRENCY, createMaildir, errno, mapLimit } from './fs-util';
import { measureMessageFile } from './measure-message';
import { deliveryTime, sizeFromName, uidlFor, uniqueName } from './names';
import { isRefusedEntry } from './open-message';
import type { MessageInfo } from './types';

/** Message sizes remembered across sessions (Maildir files never change content). */
export const SIZE_CACHE_ENTRIES = 200_000;
/** Files in a scan from which renames and measurements go to the worker thread in one batch. */
const BATCH_THRESHOLD = 64;
/** Mailbox listings remembered across sessions (see MailboxScanner.scan). */
const LISTING_CACHE_ENTRIES = 10_000;
/** A directory modified less than this long ago may change again without its mtime changing, in ns. 1 s. */
const LISTING_DIRTY_NS = 1_000_000_000n;

/** What a scan found: `files[i]` (relative to the Maildir) is message i. */
export interface ScannedMailbox {
  readonly files: readonly string[];
  readonly messages: ReadonlyArray<MessageInfo>;
  readonly totalSize: number;
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
  /** The names of `files` in cur/, while the listing is not trusted (see MailboxScanner.sameNames). */
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

export interface MailboxScannerOptions {
  /** The Maildir root (missing Maildirs below it are created). */
  root: string;
  log: Logger;
  /** See SIZE_CACHE_ENTRIES. */
  sizeCacheEntries: number;
  /** UIDLs from elsewhere (`--uidl dovecot`); default: the Maildir unique names. */
  uidls: UidlSource | undefined;
}

export class MailboxScanner {
  private readonly root: string;
  private readonly log: Logger;
  private readonly sizes: SizeCache;
  /** The worker thread that renames and measures many files at once. */
  private readonly batch = new FsBatch();
  /** Listings of unchanged mailboxes, by Maildir path, least recently used first. */
  private readonly listings = new Map<string, Listing>();
  private readonly uidls: UidlSource | undefined;

  constructor(opts: MailboxScannerOptions) {
    this.root = opts.root;
    this.log = opts.log;
    this.sizes = new SizeCache(opts.sizeCacheEntries);
    this.uidls = opts.uidls;
  }

  /**
   * Lists the mailbox. A listing is kept across sessions while the
   * modification times of new/ and cur/ stay the same: every delivery,
   * move, flag change or removal in a Maildir is a create, rename or unlink in
   * one of them, which changes its mtime. As Dovecot does, a directory
   * changed within the last LISTING_DIRTY_NS is not trusted (a second change
   * in the same clock tick would keep its mtime). So a login to an unchanged
   * mailbox costs two stat() calls, not two readdir() and a sort.
   */
  async scan(user: string, dir: string): Promise<ScannedMailbox> {
    const newDir = path.join(dir, 'new');
    const curDir = path.join(dir, 'cur');
    let stamp = this.stamp(user, newDir, curDir);
    if (stamp === undefined) {
      await createMaildir(this.root, dir);
      stamp = this.stamp(user, newDir, curDir);
      if (stamp === undefined) throw new MailboxUnavailableError(`the Maildir ${dir} cannot be created`);
    }
    // UIDLs from another source (dovecot-uidlist) may change without new/ or cur/ changing: no listing is reused.
    const cached = this.uidls === undefined ? this.listings.get(dir) : undefined;
    if (cached !== undefined && cached.trusted && cached.stamp === stamp.key) return this.reuse(dir, cached, stamp);

    // A listing made while the directories were still changing (or before a change that kept every name):
    // when the names are the same, so are the messages (a Maildir file's content never changes), and the
    // listing is reused without sorting, measuring or computing UIDLs again.
    if (cached !== undefined && (await this.sameNames(newDir, curDir, cached))) return this.reuse(dir, cached, stamp);
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
    this.log.info('mailbox.opened', { user, messages: messages.length, octets: totalSize, moved: fresh.length });
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
    return { files, messages, totalSize };
  }

  private reuse(dir: string, listing: Listing, stamp: { key: string; dirty: boolean }): ScannedMailbox {
    if (listing.stamp !== stamp.key || !listing.trusted) {
      listing.stamp = stamp.key;
      listing.trusted = !stamp.dirty;
      if (listing.trusted) listing.curNames = undefined;
    }
    this.listings.delete(dir); // most recently used last
    this.listings.set(dir, listing);
    return listing;
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
        this.log.warn('maildir.entry_skipped', { dir: sub, file: d.name, reason: 'not a regular file' });
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
      this.log.warn('maildir.move_skipped', { dir, file: name, reason: 'target exists' });
      return 'new/' + name;
    }
    try {
      await fsp.rename(path.join(dir, 'new', name), path.join(dir, 'cur', target));
      return 'cur/' + target;
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      this.log.warn('maildir.move_failed', { dir, file: name, error: err });
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
    this.log.warn('maildir.entry_skipped', { dir, file: rel, reason: 'not a regular file when opened' });
  }
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
