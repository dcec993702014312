/**
 * Binds: where the daemon listens. Accepts the seed document's text form
 * (`192.168.0.1 110, 192.168.0.2 110, 192.168.0.3 115`, `* 115`) as well as
 * structured entries, and produces the canonical list: every entry with its
 * port, addresses normalised, sorted.
 */
import { addressSortKey, formatAddress, parseAddress } from './address';
import { PORT_RANGE } from './port';
import type { Bind } from './types';

/** `*` listens on every address, IPv4 and IPv6 (one dual-stack socket). */
export const ANY_ADDRESS = '*';

export interface BindEntry {
  address: string;
  port?: number;
  /** Only structured entries carry it; the text form has no way to say it. */
  proxy?: boolean;
}

export type BindProblem = { index: number; field: 'address' | 'port' | undefined; message: string };

const PORT_TEXT = /^\d{1,5}$/;

/** Splits the seed's comma-separated text form into entries, reporting each malformed one by its position. */
export function splitBindText(text: string): { entries: BindEntry[]; problems: BindProblem[] } {
  const entries: BindEntry[] = [];
  const problems: BindProblem[] = [];
  text.split(',').forEach((raw, index) => {
    const parsed = parseBindEntryText(raw.trim());
    if ('message' in parsed) problems.push({ index, ...parsed });
    else entries.push(parsed);
  });
  return { entries, problems };
}

/** One entry of the text form: `ADDRESS`, `ADDRESS PORT`, `[IPV6]`, `[IPV6] PORT` or `[IPV6]:PORT`. */
export function parseBindEntryText(
  text: string,
): BindEntry | { field: 'address' | 'port' | undefined; message: string } {
  if (text === '') {
    return {
      field: undefined,
      message: 'is empty; write an address, optionally followed by a port (e.g. "192.168.0.1 110")',
    };
  }
  const bracketed = /^\[([^\]]*)\](?::(\S+)|\s+(\S+))?$/.exec(text);
  let address: string;
  let portText: string | undefined;
  if (bracketed) {
    address = bracketed[1] ?? '';
    portText = bracketed[2] ?? bracketed[3];
  } else {
    const words = text.split(/\s+/);
    if (words.length > 2) {
      return {
        field: undefined,
        message: `"${text}" has ${words.length} words; write "ADDRESS PORT" and separate binds with commas`,
      };
    }
    address = words[0] ?? '';
    portText = words[1];
  }
  if (portText === undefined) return { address };
  if (!PORT_TEXT.test(portText)) return { field: 'port', message: `port "${portText}" is not a number ${PORT_RANGE}` };
  return { address, port: Number(portText) };
}

/** The canonical spelling of a bind address, or undefined when it is not `*` or an IP address. */
export function canonicalBindAddress(address: string): string | undefined {
  const trimmed = address.trim();
  if (trimmed === ANY_ADDRESS) return ANY_ADDRESS;
  const unbracketed = /^\[(.*)\]$/.exec(trimmed)?.[1] ?? trimmed;
  const parsed = parseAddress(unbracketed);
  return parsed === undefined ? undefined : formatAddress(parsed);
}

function bindSortKey(bind: Bind): string {
  const address = bind.address === ANY_ADDRESS ? '0' : addressSortKey(parseAddress(bind.address)!);
  return `${address}/${String(bind.port).padStart(5, '0')}`;
}

/** Canonical order: `*` first, then IPv4, then IPv6, each numerically; then by port. */
export function sortBinds(binds: Bind[]): Bind[] {
  return binds
    .map((bind) => ({ bind, key: bindSortKey(bind) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ bind }) => bind);
}

/**
 * Renders binds back to the seed's text form. A port equal to `defaultPort`
 * is left out, as an operator would write it; IPv6 addresses are bracketed
 * so the port cannot be mistaken for part of the address.
 */
export function renderBinds(binds: readonly Bind[], defaultPort?: number): string {
  return binds
    .map(({ address, port }) => {
      const shown = address.includes(':') ? `[${address}]` : address;
      return port === defaultPort ? shown : `${shown} ${port}`;
    })
    .join(', ');
}

/** Whether two binds would fight over the same socket: the same port and overlapping addresses. */
export function bindsOverlap(a: Bind, b: Bind): boolean {
  if (a.port !== b.port) return false;
  if (a.address === b.address) return true;
  return coversAll(a.address, b.address) || coversAll(b.address, a.address);
}

// `*` is one dual-stack socket, so it takes the port on every address;
// `0.0.0.0` takes it on every IPv4 address and `::` (IPv6-only) on every IPv6 one.
function coversAll(wildcard: string, other: string): boolean {
  if (wildcard === ANY_ADDRESS) return true;
  if (wildcard === '0.0.0.0') return !other.includes(':') && other !== ANY_ADDRESS;
  if (wildcard === '::') return other.includes(':');
  return false;
}
