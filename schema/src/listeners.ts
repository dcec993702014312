/**
 * The sockets a configuration asks for, and the plan that turns one set of
 * sockets into another: what an apply opens, closes and leaves untouched.
 */
import type { Bind, CanonicalConfig, Listener } from './types';

export function listenersOf(config: Pick<CanonicalConfig, 'binds' | 'ssl'>): Listener[] {
  const plain = config.binds.map((bind) => listenerOf(bind, false));
  const secure = config.ssl.enabled ? config.ssl.binds.map((bind) => listenerOf(bind, true)) : [];
  return [...plain, ...secure];
}

function listenerOf({ address, port, proxy }: Bind, tls: boolean): Listener {
  return proxy ? { address, port, tls, proxy } : { address, port, tls };
}

/**
 * A stable identity for a listener: `pop3 127.0.0.1:110`, `pop3s [::1]:995`,
 * `pop3 127.0.0.1:110 proxy`. Turning `proxy` on or off is another listener,
 * so an apply reopens the socket rather than changing how a running one reads.
 */
export function listenerKey(listener: Listener): string {
  const host = listener.address.includes(':') ? `[${listener.address}]` : listener.address;
  return `${listener.tls ? 'pop3s' : 'pop3'} ${host}:${listener.port}${listener.proxy ? ' proxy' : ''}`;
}

export interface ListenerPlan {
  open: Listener[];
  close: Listener[];
  keep: Listener[];
}

/** What must change to go from `current` to `next`; a listener in both is kept as it is. */
export function planListeners(current: readonly Listener[], next: readonly Listener[]): ListenerPlan {
  const currentKeys = new Set(current.map(listenerKey));
  const nextKeys = new Set(next.map(listenerKey));
  return {
    open: next.filter((l) => !currentKeys.has(listenerKey(l))),
    close: current.filter((l) => !nextKeys.has(listenerKey(l))),
    keep: next.filter((l) => currentKeys.has(listenerKey(l))),
  };
}
