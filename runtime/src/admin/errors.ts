/**
 * The admin API's errors as the daemon raises them. The registry of codes and
 * statuses is the contract's (@pop3-iac/admin-client), shared with clients;
 * pop3ctl maps them to its exit codes; clients match on `code`, not on text.
 */
import { ADMIN_ERRORS, type AdminErrorCode } from '@pop3-iac/admin-client';
import type { ConfigIssue } from '@pop3-iac/schema';

export { ADMIN_ERRORS, type AdminErrorCode };

export class AdminError extends Error {
  readonly status: number;
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly issues?: ConfigIssue[],
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AdminError';
    this.status = ADMIN_ERRORS[code].status;
  }

  toBody(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}), ...this.details };
  }
}
