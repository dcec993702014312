/**
 * Maildir mail store: the mailbox of user u is `<root>/u/Maildir` with new/,
 * cur/ and tmp/ (https://cr.yp.to/proto/maildir.html).
 *
 * The only changes made to a Maildir are a rename of new/X to cur/X:2, at
 * open (as Dovecot does) and an unlink per message deleted by a completed
 * QUIT. A message file is never rewritten, so a crash at any moment loses no
 * message that was not deleted.
 *
 * This file opens a mailbox: resolves its path, claims it for one session
 * (mailbox-claim.ts), scans it (listing.ts) and hands the session a
 * MaildirMailbox (mailbox.ts, whose reads are message-writer.ts).
 */
import { lstatSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { type Logger, nullLogger } from '../log';
import { InvalidMailboxUserError, MailboxRefusedError, MailboxUnavailableError, MailStoreError } from './errors';
import type { UidlSource } from './dovecot-uidls';
import { createMaildir, errno } from './fs-util';
import { MailboxScanner, SIZE_CACHE_ENTRIES } from './listing';
import { claimMailbox, lockMailbox, releaseMailbox } from './mailbox-claim';
import { LockSource } from './mailbox-lock';
import { MaildirMailbox } from './mailbox';
import { isValidMailboxUser, maildirBelowRoot } from './paths';
import type { Mailbox, MailStore } from './types';

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
  /**
   * The daemon's state directory: the mailbox locks are hard links to one file made there
   * (see LockSource). Without it, each lock is a file of its own.
   */
  stateDir?: string;
}

export class MaildirStore implements MailStore {
  readonly root: string;
  /** `root` with its symlinks resolved, at the first login (the root may be created after start). */
  private realRoot: string | undefined;
  private readonly log: Logger;
  /** The scan, and the listings and sizes it keeps across sessions. */
  private readonly scanner: MailboxScanner;
  readonly markRetrievedSeen: boolean;
  private readonly lockSource: LockSource | undefined;

  constructor(opts: MaildirStoreOptions) {
    this.markRetrievedSeen = opts.markRetrievedSeen ?? false;
    this.root = path.resolve(opts.root);
    this.log = opts.log ?? nullLogger;
    this.lockSource = opts.stateDir === undefined ? undefined : LockSource.open(opts.stateDir, this.log);
    this.scanner = new MailboxScanner({
      root: this.root,
      log: this.log,
      sizeCacheEntries: opts.sizeCacheEntries ?? SIZE_CACHE_ENTRIES,
      uidls: opts.uidls,
    });
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
    claimMailbox(user, dir);
    try {
      await lockMailbox(user, dir, this.log, this.lockSource, () => this.create(dir));
      const { files, messages, totalSize } = await this.scanner.scan(user, dir);
      const log = this.log.child({ user });
      return new MaildirMailbox(dir, files, messages, totalSize, this.scanner, this.markRetrievedSeen, log);
    } catch (err) {
      releaseMailbox(dir);
      throw this.openFailed(user, err);
    }
  }

  private openFailed(user: string, err: unknown): MailStoreError {
    if (err instanceof MailboxRefusedError) this.log.warn('mailbox.refused', { user, reason: err.message });
    if (err instanceof MailStoreError) return err;
    this.log.error('mailbox.open_failed', { user, error: err });
    return new MailboxUnavailableError(`cannot open the mailbox of ${JSON.stringify(user)}`, { cause: err });
  }

  /**
   * The Maildir `expected` (`<root>/<user>/Maildir`, or the one the user
   * database names below the root), resolved once per login, created on a
   * first login. It must resolve to itself under the resolved root: a
   * symlinked `<user>` or `Maildir` (to another user's Maildir, say) is
   * refused, never followed. new/ and cur/ are checked in MailboxScanner.stamp(). The result
   * is what the locks are keyed on and every path is built from.
   */
  private async resolve(user: string, expected: string): Promise<string> {
    this.realRoot ??= await fsp.realpath(this.root).catch(() => undefined);
    const below = path.relative(this.root, expected);
    if (this.realRoot !== undefined && below !== '' && !below.startsWith('..') && !path.isAbsolute(below)) {
      // The usual login: an lstat per folder below the root, on the event loop. A realpath() is a readlink per
      // folder from / down, on the thread pool, and the answer is the same: no symlink below the root means
      // the Maildir resolves to itself under the resolved root.
      const found = symlinkBelow(this.root, below);
      if (found === 'none') return path.join(this.realRoot, below);
      if (found === 'symlink')
        throw new MailboxRefusedError(user, 'it is a symlink (or under one) below the Maildir root');
    }
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

  /** Creates the user's Maildir and the folders above it under the root (first login of a user who never got mail). */
  private create(dir: string): Promise<void> {
    return createMaildir(this.root, dir);
  }
}

/**
 * Whether a folder of `below` (relative to `root`) is a symlink, walking
 * down from the root with lstat: 'missing' when one does not exist yet.
 */
function symlinkBelow(root: string, below: string): 'none' | 'symlink' | 'missing' {
  let dir = root;
  for (const part of below.split(path.sep)) {
    dir = path.join(dir, part);
    try {
      if (lstatSync(dir).isSymbolicLink()) return 'symlink';
    } catch (err) {
      if (errno(err) === 'ENOENT') return 'missing';
      throw err;
    }
  }
  return 'none';
}
