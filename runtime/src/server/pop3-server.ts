/**
 * The daemon's core: the configuration in force, the listeners serving it,
 * connection control at accept time, and the open sessions. An apply goes
 * through `apply()`, which is all-or-nothing (see ListenerManager).
 */
import { type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import {
  compileAccessRules,
  listenersOf,
  normalizePeerAddress,
  peerKey,
  type AccessMatcher,
  type CanonicalConfig,
  type ConfigIssue,
  type Listener,
  type ParsedAddress,
} from '@pop3-iac/schema';
import { Pop3Session, type SessionEnvironment, type SessionSettings } from '../pop3/session';
import { BindError, ListenerManager, type ManagedListener } from './listener-manager';
import { loadTlsContext } from '../tls/tls-context';
import { upgradeToTls } from '../tls/upgrade';
import { refuseConnection } from './refuse-connection';
import { ERR } from '../pop3/replies';
import { readProxyHeader } from '../proxy/read-proxy-header';
import type { StatusCounters } from '@pop3-iac/admin-client';
import type { Logger } from '../log';
import { DaemonMetrics, refusalReason } from '../observability/metrics';

/** What the daemon runs with; built once per apply so the accept path allocates nothing for it. */
interface ActiveState {
  config: CanonicalConfig;
  matcher: AccessMatcher;
  secureContext: SecureContext | undefined;
  settings: SessionSettings;
  /** The balancers that may send a PROXY header; undefined when none is configured (every proxy connection is refused). */
  proxyTrusted: AccessMatcher | undefined;
  /** How long a balancer has to send the whole header, in milliseconds. */
  proxyTimeoutMs: number;
}

/** Refusal counters of PROXY listeners (see `refusedByRule`). */
const PROXY_UNTRUSTED = 'proxy-untrusted';
const PROXY_HEADER_INVALID = 'proxy-header-invalid';
const PROXY_HEADER_TIMEOUT = 'proxy-header-timeout';

/** What the POP3 side counts; the status report adds the admin listener's count (the contract's StatusCounters). */
export type Counters = Omit<StatusCounters, 'adminHandshakeFailures'>;

export type PrepareResult =
  | { ok: true; commit: () => void; rollback: () => Promise<void>; opened: Listener[]; closed: Listener[] }
  | { ok: false; kind: 'invalid'; issues: ConfigIssue[] }
  | { ok: false; kind: 'bind'; error: BindError };

export interface Pop3ServerOptions {
  environment: Omit<SessionEnvironment, 'settings' | 'secureContext' | 'startTls' | 'metrics'>;
  log: Logger;
  /** The daemon's series; default a registry of this server's own. */
  metrics?: DaemonMetrics;
}

export class Pop3Server {
  private state: ActiveState | undefined;
  private readonly listeners: ListenerManager;
  private readonly sessions = new Set<Pop3Session>();
  private readonly connectionsPerIp = new Map<string, number>();
  private connections = 0;
  private readonly environment: SessionEnvironment;
  readonly counters: Counters = {
    connectionsAccepted: 0,
    refusedByRule: {},
    tlsHandshakeFailures: 0,
    tlsHandshakeTimeouts: 0,
    tlsSessionErrors: 0,
    sessionsClosed: 0,
  };
  readonly startedAt = Date.now();
  readonly metrics: DaemonMetrics;

  constructor(private readonly options: Pop3ServerOptions) {
    this.listeners = new ListenerManager((socket, managed) => this.accept(socket, managed));
    this.metrics = options.metrics ?? new DaemonMetrics();
    this.environment = {
      ...options.environment,
      metrics: this.metrics,
      settings: () => this.active().settings,
      secureContext: () => this.state?.secureContext,
      startTls: (plain, upgrade) => upgradeToTls(plain, this, upgrade),
    };
  }

  get config(): CanonicalConfig | undefined {
    return this.state?.config;
  }

  listenerStatus(): ManagedListener[] {
    return this.listeners.list();
  }

  openSessions(): ReadonlySet<Pop3Session> {
    return this.sessions;
  }

  get connectionCount(): number {
    return this.connections;
  }

  /**
   * Phase one of an apply: loads the certificate, binds new listeners. The
   * running configuration is untouched until `commit()`; `rollback()` undoes.
   */
  async prepare(config: CanonicalConfig): Promise<PrepareResult> {
    let secureContext: SecureContext | undefined;
    if (config.tls) {
      const loaded = await loadTlsContext(config.tls);
      if (!loaded.ok) return { ok: false, kind: 'invalid', issues: loaded.issues };
      secureContext = loaded.context;
    }
    let transaction;
    try {
      transaction = await this.listeners.prepare(listenersOf(config));
    } catch (error) {
      if (error instanceof BindError) return { ok: false, kind: 'bind', error };
      throw error;
    }
    const next: ActiveState = {
      config,
      matcher: compileAccessRules(config.permit, config.deny),
      secureContext,
      settings: { starttls: config.starttls, allowPlaintextAuth: config.allowPlaintextAuth, limits: config.limits },
      // compileAccessRules admits everyone on empty lists: an empty trusted list must trust no one.
      proxyTrusted: config.proxyProtocol?.trusted.length
        ? compileAccessRules(config.proxyProtocol.trusted, [])
        : undefined,
      // Without proxyProtocol no header is ever read (nobody is trusted), so the deadline is moot.
      proxyTimeoutMs: (config.proxyProtocol?.timeoutSeconds ?? 0) * 1000,
    };
    return {
      ok: true,
      opened: transaction.opened,
      closed: transaction.closed,
      rollback: transaction.rollback,
      commit: () => {
        this.state = next;
        transaction.commit();
        if (config.dropDeniedSessions) this.dropRefusedSessions(next.matcher);
      },
    };
  }

  /** Stops accepting, lets sessions finish for `graceMs`, then ends the rest with -ERR [SYS/TEMP]. */
  async shutdown(graceMs: number): Promise<void> {
    await this.listeners.closeAll();
    if (this.sessions.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.terminate('server shutting down');
        resolve();
      }, graceMs);
      timer.unref();
      const check = () => {
        if (this.sessions.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const session of this.sessions) session.once('close', () => setImmediate(check));
    });
  }

  private active(): ActiveState {
    if (!this.state) throw new Error('pop3d has no configuration yet');
    return this.state;
  }

  private dropRefusedSessions(matcher: AccessMatcher): void {
    for (const session of this.sessions) {
      if (!matcher.check(session.peerAddress).admitted) session.terminate('access denied by the new rules');
    }
  }

  private refuse(socket: Socket, managed: ManagedListener, rule: string, line?: string): void {
    this.counters.refusedByRule[rule] = (this.counters.refusedByRule[rule] ?? 0) + 1;
    managed.counters.refused += 1;
    this.metrics.countRefusal(rule, refusalReason(rule), managed.key);
    refuseConnection(socket, line);
  }

  private accept(socket: Socket, managed: ManagedListener): void {
    const state = this.state;
    const peer = socket.remoteAddress;
    if (!state || peer === undefined) {
      refuseConnection(socket);
      return;
    }
    // Parsed once per connection: for the rules and as the per-IP counting key.
    const address = normalizePeerAddress(peer);
    if (managed.listener.proxy) this.acceptProxied(socket, managed, state, peer, address);
    else this.admit(socket, managed, state, peer, address);
  }

  /**
   * A proxy listener: the peer must be a trusted balancer, and the header it
   * sends names the client that the rest of the accept path sees. Nothing is
   * written to a refused connection: no greeting, no -ERR.
   */
  private acceptProxied(
    socket: Socket,
    managed: ManagedListener,
    state: ActiveState,
    balancer: string,
    balancerAddress: ParsedAddress | undefined,
  ): void {
    // proxy-protocol.txt §5: "accepting the header only from a number of known sources should be safe".
    if (!state.proxyTrusted?.checkAddress(balancerAddress).admitted) {
      this.refuse(socket, managed, PROXY_UNTRUSTED);
      return;
    }
    readProxyHeader(socket, state.proxyTimeoutMs, (outcome) => {
      if (!outcome.ok) {
        this.options.log.warn('proxy.header_refused', {
          peer: balancer,
          listener: managed.key,
          reason: outcome.problem,
        });
        this.refuse(socket, managed, outcome.problem === 'timeout' ? PROXY_HEADER_TIMEOUT : PROXY_HEADER_INVALID);
        return;
      }
      // The configuration may have changed while the header was on its way.
      const current = this.state ?? state;
      const { header } = outcome;
      // §2.2: LOCAL "must use the real connection endpoints": a health check is the balancer's own connection.
      if (header.command === 'local') this.admit(socket, managed, current, balancer, balancerAddress);
      else this.admit(socket, managed, current, header.source.address, normalizePeerAddress(header.source.address));
    });
  }

  // Connection control runs here, before TLS and before the greeting: a
  // refused client gets no POP3 dialogue and costs no handshake. `peer` is the
  // client: the socket's peer, or on a proxy listener the one its header names.
  private admit(
    socket: Socket,
    managed: ManagedListener,
    state: ActiveState,
    peer: string,
    address: ParsedAddress | undefined,
  ): void {
    const decision = state.matcher.checkAddress(address);
    if (!decision.admitted) {
      this.refuse(socket, managed, decision.rule ?? 'refused');
      return;
    }
    const ipKey = peerKey(peer, address);
    const { maxConnections, maxConnectionsPerIp } = state.config.limits;
    const fromThisIp = this.connectionsPerIp.get(ipKey) ?? 0;
    if (this.connections >= maxConnections || fromThisIp >= maxConnectionsPerIp) {
      const rule = this.connections >= maxConnections ? 'maxConnections' : 'maxConnectionsPerIp';
      // RFC 3206 section 4: SYS/TEMP "indicates a problem which is likely to be temporary in nature".
      this.refuse(socket, managed, rule, managed.listener.tls ? undefined : ERR.tooManyConnections.line + '\r\n');
      return;
    }
    this.connections += 1;
    this.connectionsPerIp.set(ipKey, fromThisIp + 1);
    this.counters.connectionsAccepted += 1;
    managed.counters.accepted += 1;
    this.metrics.connectionAccepted(managed.key);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.metrics.connectionClosed();
      this.connections -= 1;
      const left = (this.connectionsPerIp.get(ipKey) ?? 1) - 1;
      if (left === 0) this.connectionsPerIp.delete(ipKey);
      else this.connectionsPerIp.set(ipKey, left);
    };

    if (!managed.listener.tls) {
      this.startSession(socket, peer, false, managed.key, release);
      return;
    }
    socket.on('error', () => undefined);
    const secure = upgradeToTls(socket, this, {
      context: state.secureContext,
      limits: state.config.limits,
      mode: 'pop3s',
      log: this.options.log.child({ peer, listener: managed.key }),
      onSecure: (established) => this.startSession(established, peer, true, managed.key, release, socket),
    });
    // release() is idempotent: the socket closing and the session ending may both call it.
    secure.once('close', release);
  }

  private startSession(
    socket: Socket,
    peer: string,
    implicitTls: boolean,
    listener: string,
    release: () => void,
    /** The TCP socket under a TLS one: what it wrote is what went on the wire. */
    wire: Socket = socket,
  ): void {
    const session = new Pop3Session(socket, this.environment, { peerAddress: peer, implicitTls, listener });
    this.sessions.add(session);
    const ended = this.metrics.sessionStarted();
    session.once('close', () => {
      ended(session.user !== undefined, wire.bytesWritten);
      this.sessions.delete(session);
      this.counters.sessionsClosed += 1;
      release();
    });
    session.start();
  }
}
