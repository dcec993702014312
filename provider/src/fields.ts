/**
 * The one table that drives `diff`: every input of a Pop3Service and what a
 * change to it costs. A field not listed here cannot exist (the type below
 * requires exactly the schema's top-level fields plus `adminSocket`), so a new
 * schema field cannot be silently left out of the comparison.
 *
 * - `update`: applied in place with one `PUT /v1/config`; unchanged listeners
 *   keep running and open sessions are not dropped.
 * - `identity`: which daemon the resource is. The same daemon (its
 *   `instanceId`) reached at another path is an update; another daemon is a
 *   replace, which configures the new daemon first and then empties the old one.
 * - `none`: read only when the resource is created; a change applies nothing.
 */
import type { CanonicalConfig } from '@pop3-iac/schema';

export type FieldEffect = 'update' | 'identity' | 'none';

export interface FieldSpec {
  effect: FieldEffect;
  /** One line for the README's table. */
  meaning: string;
}

export type ServiceField = keyof CanonicalConfig | 'adminSocket' | 'admin' | 'adopt';

export const FIELDS = {
  adminSocket: {
    effect: 'identity',
    meaning: 'path of the daemon admin socket: the same daemon at another path is an update, another daemon a replace',
  },
  admin: {
    effect: 'identity',
    meaning: 'how to reach the daemon: { socket }, { url, caPem, certPem, keyPem } or { ssh, socket }; a secret',
  },
  adopt: {
    effect: 'none',
    meaning: 'create only: unset adopts a daemon nobody owns, false refuses, true also takes one over from its owner',
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

/** The daemon's configuration fields (everything but `adminSocket`, `admin` and `adopt`). */
export const CONFIG_FIELDS = FIELD_NAMES.filter(
  (field) => field !== 'adminSocket' && field !== 'admin' && field !== 'adopt',
) as Array<keyof CanonicalConfig>;

/** The fields a diff compares: a change to any of them is an update (or, for `adminSocket`, maybe a replace). */
export const COMPARED_FIELDS = FIELD_NAMES.filter((field) => FIELDS[field].effect !== 'none');

/**
 * Not a field of the table: the owner's names, set by the Pop3Service class
 * (project, stack, resource, and the names its aliases give). Metadata of
 * every apply, never compared (a rename with an alias changes nothing).
 */
export const OWNER_INPUT = 'owner';

/**
 * Not a field either: whether the program runs for a preview
 * (`pulumi.runtime.isDryRun()`), set by the Pop3Service class. A dynamic
 * provider's diff is not told, and an unreachable daemon fails a preview but
 * only its own resource in `pulumi up`. check takes it out of the inputs it
 * returns, so it is never stored or compared.
 */
export const PREVIEW_INPUT = 'preview';

/** Outputs that are not inputs: computed from the daemon's answer. */
export const COMPUTED_OUTPUTS = ['listeners', 'generation', 'etag', 'instanceId'] as const;
