/**
 * The admin API's error registry: one entry per failure, with its HTTP status
 * and a stable machine-readable `code` that every error body carries.
 * pop3ctl maps them to its exit codes; clients match on `code`, not on text.
 */
import type { ConfigIssue } from '@pop3-iac/schema';

export const ADMIN_ERRORS = {
  invalid_config: { status: 400, meaning: 'the configuration failed validation; `issues` has each field at fault' },
  bad_json: { status: 400, meaning: 'the request body is not JSON' },
  precondition_failed: { status: 412, meaning: 'If-Match named an ETag that is no longer current' },
  owner_mismatch: {
    status: 412,
    meaning: 'Pop3d-If-Owner named a claim that does not own the configuration; `owner` has the current one',
  },
  bad_owner: { status: 400, meaning: 'the Pop3d-Owner or Pop3d-If-Owner header is malformed' },
  apply_failed: {
    status: 409,
    meaning: 'a listener could not be opened; everything was rolled back and the old configuration runs',
  },
  persist_failed: { status: 500, meaning: 'the configuration could not be saved; the apply was rolled back' },
  not_found: { status: 404, meaning: 'no such path' },
  method_not_allowed: { status: 405, meaning: 'the path does not take that method' },
  body_too_large: { status: 413, meaning: 'the request body exceeds the limit' },
  unsupported_media_type: { status: 415, meaning: 'the request body must be application/json' },
  bad_request: { status: 400, meaning: 'the request is not well-formed HTTP' },
  request_timeout: { status: 408, meaning: 'the request did not arrive in time' },
  headers_too_large: { status: 431, meaning: 'the request headers exceed the limit' },
  internal: { status: 500, meaning: 'an unexpected failure; the daemon log has details' },
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

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
