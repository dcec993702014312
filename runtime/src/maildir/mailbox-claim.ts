/**
 * One session per mailbox (RFC 1939 §8: "[IN-USE]"): a set of the
 * mailboxes open in this process, and their lock files (mailbox-lock.ts)
 * for other processes and hosts. Keyed on the Maildir path as resolved at
 * login (MaildirStore.resolve).
 */
import type { Logger } from '../log';
import { MailboxInUseError } from './errors';
import { errno } from './fs-util';
import { type HeldMailboxLock, type LockSource, acquireMailboxLock } from './mailbox-lock';

/** Mailboxes open in this process: one session each. */
const openMailboxes = new Set<string>();
/** The lock files of those mailboxes: one session across processes and hosts. */
const heldLocks = new Map<string, HeldMailboxLock>();

/**
 * Claims `dir` in this process; MailboxInUseError when already open here.
 * Checked and taken with no await between, so two logins cannot both pass.
 */
export function claimMailbox(user: string, dir: string): void {
  if (openMailboxes.has(dir)) throw new MailboxInUseError(user);
  openMailboxes.add(dir);
}

/**
 * Takes the mailbox's lock file (a link to `source` where one can be made),
 * calling `create` for a missing Maildir first; MailboxInUseError when held elsewhere.
 */
export async function lockMailbox(
  user: string,
  dir: string,
  log: Logger,
  source: LockSource | undefined,
  create: () => Promise<void>,
): Promise<void> {
  let lock: HeldMailboxLock | undefined;
  try {
    lock = acquireMailboxLock(dir, log, source);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
    await create();
    lock = acquireMailboxLock(dir, log, source);
  }
  if (lock === undefined) throw new MailboxInUseError(user);
  heldLocks.set(dir, lock);
}

/** Releases the lock file and the claim of `dir`, if held. */
export function releaseMailbox(dir: string): void {
  heldLocks.get(dir)?.release();
  heldLocks.delete(dir);
  openMailboxes.delete(dir);
}
