/**
 * What a Maildir file name tells (https://cr.yp.to/proto/maildir.html): its
 * unique name, its delivery time, Dovecot's `,W=` size, and the POP3
 * unique-id made from it.
 */
import { createHash } from 'node:crypto';

/** RFC 1939 §7: "one to 70 characters in the range 0x21 to 0x7E". */
const UIDL_RE = /^[\x21-\x7e]{1,70}$/;

/** The unique name of a Maildir file: the part before the ":" info. */
export function uniqueName(file: string): string {
  const colon = file.indexOf(':');
  return colon === -1 ? file : file.slice(0, colon);
}

/** The RFC 1939 unique-id for a unique name: the name itself when it fits, else a hash of it. */
export function uidlFor(unique: string): string {
  return UIDL_RE.test(unique) ? unique : createHash('sha1').update(unique).digest('hex');
}

/** Dovecot's `,W=<n>` (size with CRLF line endings) from a unique name. */
export function sizeFromName(unique: string): number | undefined {
  const m = /,W=(\d{1,15})(?=,|$)/.exec(unique);
  return m ? Number(m[1]) : undefined;
}

/** Delivery time, in seconds: the numeric prefix of the unique name (Infinity when none). */
export function deliveryTime(unique: string): number {
  const m = /^\d{1,15}/.exec(unique);
  return m ? Number(m[0]) : Infinity;
}
