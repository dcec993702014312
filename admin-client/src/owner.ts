/**
 * Who owns the running configuration, as the admin API carries it: the
 * infrastructure-as-code resource that applied it (a Pulumi project, stack
 * and resource name), and the `claim` of that resource's creation. The names
 * say who to ask; the claim tells two creations of one name apart (the two
 * halves of a replace share their names), so only the half that holds the
 * claim may empty the daemon.
 *
 * The owner is metadata of an apply, not configuration: it travels in
 * headers, never in the configuration body.
 *
 * - `Pop3d-Owner` on `PUT /v1/config`: the JSON owner to record, or `none` to
 *   clear it. Without the header an apply keeps the owner (a hand apply is drift).
 * - `Pop3d-If-Owner` on `PUT /v1/config`: apply only if the current owner's
 *   claim is this one (`none`: only if nobody owns it); else 412 owner_mismatch.
 * - `Pop3d-Owner` on `GET /v1/config`: the current owner as JSON, or `none`.
 *
 * The daemon reads these headers and clients write them with the same
 * functions, so the encoding is written once.
 */
import type { Owner } from './contract';

export const OWNER_HEADER = 'pop3d-owner';
export const IF_OWNER_HEADER = 'pop3d-if-owner';
/** What an owner header says when nobody owns the configuration. */
export const NO_OWNER = 'none';
/** The header that carries the daemon's identity beside the configuration (GET and PUT /v1/config), so one request tells a client which daemon it reached. */
export const INSTANCE_ID_HEADER = 'Pop3d-Instance-Id';

/** Longest name accepted in an owner, in characters: Pulumi names are far shorter. */
const MAX_NAME = 512;
const FIELDS = ['project', 'stack', 'resource', 'claim'] as const;

/** A malformed owner header or record: the daemon answers it as `bad_owner`. */
export class BadOwnerError extends Error {
  readonly code = 'bad_owner';
  constructor(message: string) {
    super(message);
    this.name = 'BadOwnerError';
  }
}

/** What a PUT asks for the owner: keep it (header absent), clear it (`none`), or set it. */
export type OwnerChange = { kind: 'keep' } | { kind: 'set'; owner: Owner | null };

export function ownerChangeOf(header: string | undefined): OwnerChange {
  if (header === undefined) return { kind: 'keep' };
  if (header.trim() === NO_OWNER) return { kind: 'set', owner: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    throw new BadOwnerError(`the ${OWNER_HEADER} header is neither "${NO_OWNER}" nor JSON`);
  }
  return { kind: 'set', owner: parseOwner(parsed, `the ${OWNER_HEADER} header`) };
}

/** An owner read from a header or the state file; anything else is an error naming `where`. */
export function parseOwner(value: unknown, where: string): Owner {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadOwnerError(`${where} must be an object {project, stack, resource, claim}`);
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new BadOwnerError(`${where} has unknown keys: ${unknown.join(', ')}`);
  for (const field of FIELDS) {
    const item = record[field];
    if (typeof item !== 'string' || item === '' || item.length > MAX_NAME)
      throw new BadOwnerError(`${where}: ${field} must be a non-empty string of at most ${MAX_NAME} characters`);
  }
  const { project, stack, resource, claim } = record as Record<string, string>;
  return { project, stack, resource, claim } as Owner;
}

/** True when `expected` (a claim, or `none`) names the current owner. */
export function ownerMatches(expected: string, current: Owner | null): boolean {
  const wanted = expected.trim();
  return wanted === NO_OWNER ? current === null : current?.claim === wanted;
}

/**
 * The owner as a header value: JSON with every non-ASCII character escaped
 * (`\uXXXX`), so any resource name fits in an HTTP header and still parses as JSON.
 */
export function ownerHeaderValue(owner: Owner | null): string {
  if (owner === null) return NO_OWNER;
  return JSON.stringify(owner).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `project/stack/resource`, as people read it. */
export function describeOwner(owner: Owner | null): string {
  return owner === null ? 'nobody' : `${owner.project}/${owner.stack}/${owner.resource}`;
}
