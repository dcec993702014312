/**
 * The admin API's contract, declared once: every route's request and answer,
 * the status report, and the registry of error codes with their HTTP status.
 * pop3d serves these types, and pop3ctl, the provider and the tests read them;
 * nobody re-declares them.
 */
import type { ConfigIssue, FieldChange, ListenerPlan, RedactedConfig } from '@pop3-iac/schema';

/** The routes, as `METHOD path`. */
export const ADMIN_ROUTES = {
  getConfig: 'GET /v1/config',
  putConfig: 'PUT /v1/config',
  validate: 'POST /v1/config/validate',
  status: 'GET /v1/status',
  metrics: 'GET /metrics',
} as const;

/**
 * One entry per failure the daemon answers, with its HTTP status; every error
 * body is `{code, message, issues?, ...details}`. Clients match on `code`.
 */
export const ADMIN_ERRORS = {
  invalid_config: { status: 400, meaning: 'the configuration failed validation; `issues` has each field at fault' },
  bad_json: { status: 400, meaning: 'the request body is not JSON' },
  forbidden: { status: 403, meaning: 'the client certificate may only read (it comes from --admin-reader-ca)' },
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

/** The body of every error answer. */
export interface AdminErrorBody {
  code: AdminErrorCode;
  message: string;
  /** `invalid_config`: each field at fault. */
  issues?: ConfigIssue[];
  /** `precondition_failed`: the current ETag. */
  etag?: string;
  /** `apply_failed`: the bind that could not be opened, its field and the OS error. */
  bind?: { address: string; port: number; tls: boolean };
  field?: 'binds' | 'ssl.binds';
  osCode?: string;
  /** `method_not_allowed`: the methods the path takes. */
  allow?: string[];
}

/** GET /v1/config: the running configuration (an inline key only as a fingerprint), with `ETag`. */
export type ConfigAnswer = RedactedConfig;

/** PUT /v1/config (optional `If-Match`): the body is the configuration. */
/**
 * Who owns the running configuration: the Pulumi resource that applied it.
 * Sent and shown as JSON in the `Pop3d-Owner` header; `none` when nobody owns it.
 */
export interface Owner {
  project: string;
  stack: string;
  resource: string;
  /** A random id made by each creation of the resource. */
  claim: string;
}

export interface ApplyAnswer {
  /** False when the configuration was already the running one (a no-op). */
  applied: boolean;
  generation: number;
  etag: string;
  plan: ListenerPlan;
  changes: FieldChange[];
  config: RedactedConfig;
  /** The owner of the configuration after the apply. */
  owner: Owner | null;
}

/** POST /v1/config/validate: the body is the configuration; a dry run. */
export interface ValidateAnswer {
  valid: true;
  plan: ListenerPlan;
  changes: FieldChange[];
}

/** What an apply came to: applied, a no-op, or the error code it was refused with. */
export type ApplyResult = 'applied' | 'unchanged' | AdminErrorCode;

/** One of the last applies, newest last. */
export interface RecentApply {
  /** ISO 8601 time the answer was given. */
  at: string;
  /** `unix` for the admin socket, else the client certificate's subject (`CN=deployer, O=example`). */
  by: string;
  /** The client certificate's SHA-256 fingerprint (`AB:CD:…`); absent for `unix`. */
  fingerprint?: string;
  /** The generation in force after the apply. */
  generation: number;
  result: ApplyResult;
}

export interface StatusCounters {
  connectionsAccepted: number;
  /**
   * Refusals by the rule that refused: a deny pattern, `permit`, `maxConnections` or
   * `maxConnectionsPerIp`; on proxy listeners also `proxy-untrusted`, `proxy-header-invalid`
   * (malformed, or closed before it was complete) and `proxy-header-timeout`.
   */
  refusedByRule: Record<string, number>;
  /** Failed TLS handshakes (POP3S and STLS), timeouts included. */
  tlsHandshakeFailures: number;
  /** TLS handshakes (POP3S and STLS) not finished within the handshake timeout (also in tlsHandshakeFailures). */
  tlsHandshakeTimeouts: number;
  /** TLS sessions (POP3S and STLS) ended by a fatal TLS error (or a renegotiation) after the handshake. */
  tlsSessionErrors: number;
  sessionsClosed: number;
  /** Handshakes refused on --admin-listen (no client certificate, one from another CA, or not TLS 1.3). */
  adminHandshakeFailures: number;
}

/** GET /v1/status. */
export interface StatusAnswer {
  /** The daemon's identity: a UUID made at first start and kept in --state-dir. */
  instanceId: string;
  version: string;
  pid: number;
  uptimeSeconds: number;
  generation: number;
  etag: string;
  /** Who applied the running configuration, or null when nobody owns it. */
  owner: Owner | null;
  listeners: Array<{
    address: string;
    port: number;
    tls: boolean;
    state: 'listening';
    accepted: number;
    refused: number;
  }>;
  sessions: { connections: number; authorization: number; transaction: number };
  counters: StatusCounters;
  /** Applies by result since start. */
  applies: Record<string, number>;
  /** The last applies (at most RECENT_APPLIES), oldest first, with who made each. */
  recentApplies: RecentApply[];
  /** The admin listener (--admin-listen), when there is one. */
  adminListen?: { address: string; port: number };
}

/** How many applies GET /v1/status lists. */
export const RECENT_APPLIES = 10;
