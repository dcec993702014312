/**
 * Who applied what: every PUT /v1/config answer is recorded with the caller's
 * identity (`unix`, or the client certificate's subject and fingerprint),
 * logged as `admin.apply`, and the last RECENT_APPLIES are kept for
 * GET /v1/status.
 */
import { RECENT_APPLIES, type ApplyResult, type RecentApply } from '@pop3-iac/admin-client';
import type { Logger } from '../log';

/** Who is calling the admin API, and whether they may change anything. */
export interface AdminIdentity {
  /** `unix`, or the client certificate's subject. */
  by: string;
  /** The client certificate's SHA-256 fingerprint. */
  fingerprint?: string;
  mayApply: boolean;
}

/** The admin socket's caller: whoever can open a mode-0600 socket is the daemon's own user. */
export const UNIX_IDENTITY: AdminIdentity = { by: 'unix', mayApply: true };

export class ApplyHistory {
  private readonly entries: RecentApply[] = [];

  constructor(private readonly log: Logger) {}

  record(identity: AdminIdentity, result: ApplyResult, generation: number): void {
    const entry: RecentApply = {
      at: new Date().toISOString(),
      by: identity.by,
      ...(identity.fingerprint === undefined ? {} : { fingerprint: identity.fingerprint }),
      generation,
      result,
    };
    this.entries.push(entry);
    if (this.entries.length > RECENT_APPLIES) this.entries.shift();
    this.log.info('admin.apply', { ...entry });
  }

  recent(): RecentApply[] {
    return this.entries.map((entry) => ({ ...entry }));
  }
}
