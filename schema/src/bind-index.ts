/**
 * Which earlier bind a bind overlaps (see bindsOverlap), in constant time per
 * bind: validation of a long list must stay linear (60,000 binds compared
 * pairwise took 30 s while the daemon waited). For each port it remembers the
 * first index of each kind of address that can overlap another: the same
 * address, `*`, `0.0.0.0`, `::`, any IPv4 address, any IPv6 address.
 */
import { ANY_ADDRESS } from './binds';
import type { Bind } from './types';

interface PortEntry {
  first?: number;
  star?: number;
  anyV4?: number;
  anyV6?: number;
  firstV4?: number;
  firstV6?: number;
  byAddress: Map<string, number>;
}

export class BindIndex {
  private readonly ports = new Map<number, PortEntry>();
  private readonly binds: Bind[] = [];

  /** Remembers `bind` (after any bind added before it). */
  add(bind: Bind): void {
    const index = this.binds.push(bind) - 1;
    let entry = this.ports.get(bind.port);
    if (entry === undefined) {
      entry = { byAddress: new Map() };
      this.ports.set(bind.port, entry);
    }
    entry.first ??= index;
    if (!entry.byAddress.has(bind.address)) entry.byAddress.set(bind.address, index);
    if (bind.address === ANY_ADDRESS) entry.star ??= index;
    else if (bind.address.includes(':')) {
      entry.firstV6 ??= index;
      if (bind.address === '::') entry.anyV6 ??= index;
    } else {
      entry.firstV4 ??= index;
      if (bind.address === '0.0.0.0') entry.anyV4 ??= index;
    }
  }

  /** The first bind added that overlaps `bind`, or undefined. */
  firstOverlap(bind: Bind): Bind | undefined {
    const entry = this.ports.get(bind.port);
    if (entry === undefined) return undefined;
    const candidates: Array<number | undefined> = [entry.byAddress.get(bind.address), entry.star];
    if (bind.address === ANY_ADDRESS) candidates.push(entry.first);
    else if (bind.address.includes(':'))
      candidates.push(entry.anyV6, bind.address === '::' ? entry.firstV6 : undefined);
    else candidates.push(entry.anyV4, bind.address === '0.0.0.0' ? entry.firstV4 : undefined);
    let first: number | undefined;
    for (const c of candidates) if (c !== undefined && (first === undefined || c < first)) first = c;
    return first === undefined ? undefined : this.binds[first];
  }
}
