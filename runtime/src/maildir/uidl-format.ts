/**
 * Dovecot's `pop3_uidl_format`: a template of `%` variables expanded per
 * message (https://doc.dovecot.org/2.3/settings/core/#core_setting-pop3_uidl_format,
 * variable syntax: https://doc.dovecot.org/2.3/configuration_manual/config_file/config_variables/).
 *
 * Supported, as Dovecot 2.3 expands them:
 * - variables `%u` / `%{uid}` (IMAP UID), `%v` / `%{uidvalidity}` (the
 *   mailbox's UIDVALIDITY), `%f` / `%{filename}` (the Maildir base file name,
 *   without `:2,` flags), and `%%` for a literal percent sign;
 * - modifiers before the variable: `X` (the decimal number in lowercase
 *   hexadecimal, as Dovecot prints it: `%08Xu` of UID 26 is `0000001a`),
 *   `L` (lowercase), `U` (uppercase), applied in the order written;
 * - a width before the modifiers: `0<n>` pads on the left with zeros to n
 *   characters, a bare `<n>` keeps the first n characters.
 * Anything else (`%m`, `%g`, offsets) is refused when the format is parsed,
 * so a site never gets UIDLs that silently differ from Dovecot's.
 */

/** What one message's UIDL is made of. */
export interface UidlVariables {
  uid: number;
  uidValidity: number;
  /** Maildir base file name (the unique name). */
  filename: string;
}

/** Dovecot's default, `pop3_uidl_format = %08Xu%08Xv`. */
export const DEFAULT_UIDL_FORMAT = '%08Xu%08Xv';

/** A format Dovecot would expand but pop3d does not, or that is malformed. */
export class UidlFormatError extends Error {
  readonly code = 'UIDL_FORMAT_INVALID';
  constructor(format: string, reason: string, flag: string) {
    super(`${flag} ${JSON.stringify(format)}: ${reason}`);
    this.name = 'UidlFormatError';
  }
}

type Part = string | { variable: keyof UidlVariables; pad: boolean; width?: number; modifiers: string };

const LONG_NAMES: Record<string, keyof UidlVariables> = {
  uid: 'uid',
  uidvalidity: 'uidValidity',
  filename: 'filename',
};
const SHORT_NAMES: Record<string, keyof UidlVariables> = { u: 'uid', v: 'uidValidity', f: 'filename' };

/** Parses `format` (given as `flag`) once; the result expands it per message. Throws UidlFormatError. */
export function compileUidlFormat(format: string, flag = '--uidl-format'): (vars: UidlVariables) => string {
  const parts: Part[] = [];
  const re = /%(?:(%)|(0)?(\d+)?([XLU]*)(?:\{([a-z]+)\}|([a-zA-Z])))/y;
  let literal = '';
  let i = 0;
  while (i < format.length) {
    if (format[i] !== '%') {
      literal += format[i++];
      continue;
    }
    re.lastIndex = i;
    const m = re.exec(format);
    if (m === null) throw new UidlFormatError(format, `malformed variable at offset ${i}`, flag);
    i = re.lastIndex;
    if (m[1] !== undefined) {
      literal += '%';
      continue;
    }
    const name = m[5] !== undefined ? LONG_NAMES[m[5]] : SHORT_NAMES[m[6]!];
    if (name === undefined)
      throw new UidlFormatError(format, `variable ${JSON.stringify(m[0])} is not supported (use %u, %v or %f)`, flag);
    if (m[2] !== undefined && m[3] === undefined)
      throw new UidlFormatError(format, `${m[0]} has a 0 without a width`, flag);
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({
      variable: name,
      pad: m[2] !== undefined,
      width: m[3] === undefined ? undefined : Number(m[3]),
      modifiers: m[4]!,
    });
  }
  if (literal !== '') parts.push(literal);
  if (!parts.some((p) => typeof p !== 'string'))
    throw new UidlFormatError(format, 'names no variable: every message would get the same UIDL', flag);
  return (vars) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : expand(p, vars);
    return out;
  };
}

function expand(p: Exclude<Part, string>, vars: UidlVariables): string {
  let value = String(vars[p.variable]);
  for (const m of p.modifiers) {
    if (m === 'X') value = /^\d+$/.test(value) ? BigInt(value).toString(16) : '0';
    else if (m === 'L') value = value.toLowerCase();
    else value = value.toUpperCase();
  }
  if (p.width === undefined) return value;
  return p.pad ? value.padStart(p.width, '0') : value.slice(0, p.width);
}
