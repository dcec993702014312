/**
 * The one table that drives `diff`: every input of a Pop3Service and what a
 * change to it costs. A field not listed here cannot exist (the type below
 * requires exactly the schema's top-level fields plus `adminSocket`), so a new
 * schema field cannot be silently left out of the comparison.
 *
 * - `update`: applied in place with one `PUT /v1/config`; unchanged listeners
 *   keep running and open sessions are not dropped.
 * - `replace`: the resource is another daemon; Pulumi deletes it from the old
 *   one (no listeners left there) and then creates it on the new one.
 */
import type { CanonicalConfig } from '@pop3-iac/schema';

export type FieldEffect = 'update' | 'replace';

export interface FieldSpec {
  effect: FieldEffect;
  /** One line for the README's table. */
  meaning: string;
}

export type ServiceField = keyof CanonicalConfig | 'adminSocket';

export const FIELDS = {
  adminSocket: {
    effect: 'replace',
    meaning: 'path of the daemon admin socket: a different path is a different daemon',
  },
  binds: { effect: 'update', meaning: 'plain POP3 listeners' },
  port: { effect: 'update', meaning: 'port of any bind that names none' },
  ssl: { effect: 'update', meaning: 'implicit-TLS (POP3S) listeners: enabled, binds, port' },
  starttls: { effect: 'update', meaning: 'offer STLS on the plain listeners' },
  tls: { effect: 'update', meaning: 'certificate and key (files on the daemon host, or inline PEM)' },
  permit: { effect: 'update', meaning: 'client patterns admitted (empty admits everyone)' },
  deny: { effect: 'update', meaning: 'client patterns refused (deny wins)' },
  allowPlaintextAuth: { effect: 'update', meaning: 'allow USER/PASS without TLS from non-loopback peers' },
  dropDeniedSessions: { effect: 'update', meaning: 'an apply that refuses an address also closes its open sessions' },
  limits: { effect: 'update', meaning: 'line length, timeouts, connection caps, login failure delay' },
  proxyProtocol: { effect: 'update', meaning: 'balancers trusted to send a PROXY header to `proxy` binds' },
} as const satisfies Record<ServiceField, FieldSpec>;

/** The table's fields in a fixed order. */
export const FIELD_NAMES = Object.keys(FIELDS) as ServiceField[];

/** The daemon's configuration fields (everything but `adminSocket`). */
export const CONFIG_FIELDS = FIELD_NAMES.filter((field) => field !== 'adminSocket') as Array<keyof CanonicalConfig>;

/** Outputs that are not inputs: computed from the daemon's answer. */
export const COMPUTED_OUTPUTS = ['listeners', 'generation', 'etag'] as const;
