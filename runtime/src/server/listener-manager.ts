/**
 * Owns the listening sockets. An apply reconciles the running set with the
 * set a new configuration asks for, in two phases so the caller can make the
 * whole apply all-or-nothing:
 *
 *   prepare(next)  binds every new listener first; if any bind fails, closes
 *                  what this apply opened, reopens what it had to release, and
 *                  throws a BindError naming the bind. Nothing else changed.
 *   commit()       stops accepting on the listeners that are gone. Their
 *                  sessions are separate sockets and finish undisturbed.
 *   rollback()     undoes prepare, e.g. when persisting the config failed.
 *
 * Unchanged listeners are never touched.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { bindsOverlap, listenerKey, planListeners, type Listener } from '@pop3-iac/schema';

/** Pending connections the kernel may queue per listener before accept. */
const LISTEN_BACKLOG = 4096;

export interface ListenerCounters {
  accepted: number;
  refused: number;
}

export interface ManagedListener {
  listener: Listener;
  key: string;
  server: Server;
  counters: ListenerCounters;
}

export class BindError extends Error {
  readonly code = 'BIND_FAILED';
  constructor(
    readonly listener: Listener,
    readonly osCode: string,
    osMessage: string,
  ) {
    super(`cannot listen on ${listenerKey(listener)}: ${explain(osCode, listener.port) ?? osMessage}`);
    this.name = 'BindError';
  }
}

function explain(code: string, port: number): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `the address and port are in use by another process (EADDRINUSE)`;
    case 'EADDRNOTAVAIL':
      return 'the address is not on this host (EADDRNOTAVAIL)';
    case 'EACCES':
      return port < 1024
        ? `port ${port} is privileged: run as root, grant CAP_NET_BIND_SERVICE (e.g. AmbientCapabilities= in the systemd unit), or use a port above 1023 (EACCES)`
        : 'permission denied (EACCES)';
    default:
      return undefined;
  }
}

export interface ListenerTransaction {
  opened: Listener[];
  closed: Listener[];
  commit(): void;
  rollback(): Promise<void>;
}

export class ListenerManager {
  private readonly running = new Map<string, ManagedListener>();

  constructor(private readonly onConnection: (socket: Socket, managed: ManagedListener) => void) {}

  list(): ManagedListener[] {
    return [...this.running.values()];
  }

  /** Binds the listeners `next` adds; see the module comment. */
  async prepare(next: readonly Listener[]): Promise<ListenerTransaction> {
    const plan = planListeners(
      this.list().map((m) => m.listener),
      next,
    );
    // A removed listener holding an address and port that a new one needs
    // (plain to TLS on one port, `*` narrowed to one address) must let go first.
    const released = plan.close.filter((old) => plan.open.some((fresh) => bindsOverlap(old, fresh)));
    for (const old of released) await this.stop(listenerKey(old));

    const opened: ManagedListener[] = [];
    try {
      for (const listener of plan.open) opened.push(await this.start(listener));
    } catch (error) {
      for (const managed of opened) await this.stop(managed.key);
      for (const old of released) await this.start(old).catch(() => undefined);
      throw error;
    }
    return {
      opened: plan.open,
      closed: plan.close,
      commit: () => {
        for (const old of plan.close) void this.stop(listenerKey(old));
      },
      rollback: async () => {
        for (const managed of opened) await this.stop(managed.key);
        for (const old of released) await this.start(old).catch(() => undefined);
      },
    };
  }

  /** Stops accepting everywhere (shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((key) => this.stop(key)));
  }

  private async start(listener: Listener): Promise<ManagedListener> {
    const key = listenerKey(listener);
    // allowHalfOpen: a client that pipelines its commands and then shuts down
    // its sending side still gets every reply; the session closes when done.
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    const managed: ManagedListener = { listener, key, server, counters: { accepted: 0, refused: 0 } };
    server.on('connection', (socket) => this.onConnection(socket, managed));
    try {
      await listen(server, listener);
    } catch (error) {
      const err = error as NodeJS.ErrnoException;
      throw new BindError(listener, err.code ?? 'UNKNOWN', err.message);
    }
    // Errors after listening (EMFILE on accept, say) must not reach the process.
    server.on('error', () => undefined);
    this.running.set(key, managed);
    return managed;
  }

  private async stop(key: string): Promise<void> {
    const managed = this.running.get(key);
    if (!managed) return;
    this.running.delete(key);
    // close() stops accepting at once; its callback would wait for every open
    // session of this listener to end, which is not ours to wait for.
    await new Promise<void>((resolve) => {
      managed.server.close();
      setImmediate(resolve);
    });
  }
}

// `*` is one dual-stack socket on `::`; on a host without IPv6 it falls back to IPv4.
async function listen(server: Server, listener: Listener): Promise<void> {
  if (listener.address === '*') {
    try {
      return await listenOnce(server, { host: '::', port: listener.port, ipv6Only: false });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
      return listenOnce(server, { host: '0.0.0.0', port: listener.port });
    }
  }
  return listenOnce(server, { host: listener.address, port: listener.port, ipv6Only: listener.address === '::' });
}

function listenOnce(server: Server, options: { host: string; port: number; ipv6Only?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ ...options, backlog: LISTEN_BACKLOG, exclusive: true });
  });
}
