/**
 * Per-address delay after failed logins.
 *
 * The first failure from an address is answered after `loginFailureDelayMs`;
 * each further recent failure doubles the delay, up to
 * `loginFailureDelayMaxMs`. The failure count of an address drops by one for
 * every QUIET_PERIOD_MS without a failure from it, so a user who mistyped once
 * is not penalised an hour later. The count is per address (keyed by the
 * schema's peerKey, as the per-IP connection cap is): a failure from one
 * address never delays another. A successful login does not reset the
 * count (a valid account must not be a way to reset the penalty while
 * guessing another account's password).
 */
import { type Limits, peerKey } from '@pop3-iac/schema';

/** Time without failures after which an address's failure count drops by one. Default 60 s. */
const QUIET_PERIOD_MS = 60 * 1000;
/** Addresses remembered at most; the least recently failing are forgotten first. */
const MAX_TRACKED_ADDRESSES = 100_000;
/** Doublings at most (2^16 times the base is far beyond any sane cap). */
const MAX_DOUBLINGS = 16;

export type ThrottleLimits = Pick<Limits, 'loginFailureDelayMs' | 'loginFailureDelayMaxMs'>;

interface Entry {
  failures: number;
  last: number;
}

export interface LoginThrottleOptions {
  /** See QUIET_PERIOD_MS. */
  quietPeriodMs?: number;
  /** See MAX_TRACKED_ADDRESSES. */
  maxAddresses?: number;
  /** Clock, in milliseconds (tests). */
  now?: () => number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly quietMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(opts: LoginThrottleOptions = {}) {
    this.quietMs = opts.quietPeriodMs ?? QUIET_PERIOD_MS;
    this.maxAddresses = opts.maxAddresses ?? MAX_TRACKED_ADDRESSES;
    this.now = opts.now ?? Date.now;
  }

  /** Recent failures counted for `address` now (after decay). */
  failures(address: string): number {
    const e = this.entries.get(peerKey(address));
    return e === undefined ? 0 : this.decayed(e, this.now());
  }

  /**
   * Records a failed login from `address` and returns how long to wait before
   * answering it, in milliseconds.
   */
  recordFailure(address: string, limits: ThrottleLimits): number {
    const key = peerKey(address);
    const now = this.now();
    const e = this.entries.get(key);
    const failures = (e === undefined ? 0 : this.decayed(e, now)) + 1;
    // Re-insert so that Map order is least-recently-failed first.
    if (e !== undefined) this.entries.delete(key);
    this.entries.set(key, { failures, last: now });
    if (this.entries.size > this.maxAddresses) this.prune(now);
    return delayFor(failures, limits);
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.entries.size;
  }

  private decayed(e: Entry, now: number): number {
    const quietPeriods = Math.floor(Math.max(0, now - e.last) / this.quietMs);
    return Math.max(0, e.failures - quietPeriods);
  }

  private prune(now: number): void {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxAddresses) break;
      if (this.decayed(e, now) === 0 || this.entries.size > this.maxAddresses) this.entries.delete(key);
    }
  }
}

function delayFor(failures: number, limits: ThrottleLimits): number {
  if (failures <= 0) return 0;
  const base = Math.max(0, limits.loginFailureDelayMs);
  const max = Math.max(0, limits.loginFailureDelayMaxMs);
  return Math.min(max, base * 2 ** Math.min(failures - 1, MAX_DOUBLINGS));
}
