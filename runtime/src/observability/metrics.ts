/**
 * Every Prometheus series pop3d exposes, registered once on a Registry of its
 * own (never prom-client's global one: daemons and tests in one process must
 * not share counters). The places where things happen call one method here;
 * nothing is computed by walking the sessions at scrape time. Label values
 * come from bounded sets only (the command table, the configuration's rules
 * and listeners, fixed result words): never a user name or a client address.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; a POP3 session lasts from well under a second (a poll) to the idle limit. */
const SESSION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800];
/** Seconds; an apply binds listeners and fsyncs a file: milliseconds, seconds when a disk is slow. */
const APPLY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** Seconds; an unchanged mailbox lists in microseconds, a first login to 100,000 messages in seconds. */
const SCAN_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** Seconds; the throttle doubles from loginFailureDelayMs up to loginFailureDelayMaxMs. */
const DELAY_BUCKETS = [0, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];

/**
 * prom-client defaults left out. Each walks every open socket at each scrape, synchronously (the fd
 * table in /proc/self/fd, or all libuv handles): with 2,000 sessions open that made a scrape cost
 * several milliseconds of CPU more (runtime/README.md, "Metrics"); pop3d_connections_open counts the
 * connections at no cost. The `_total` ones are also gauges named like counters, which
 * `promtool check metrics` rejects.
 */
const EXCLUDED_DEFAULTS = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_requests_total',
];

/** The HELP line of every series pop3d registers, by name: the catalogue an operator reads in /metrics. */
const HELP = {
  pop3d_up: 'Always 1 while the daemon answers.',
  pop3d_listener_connections_total: 'Connections accepted or refused per listener.',
  pop3d_connections_accepted_total: 'Connections admitted by connection control.',
  pop3d_connections_refused_total:
    'Connections refused before the greeting, by the rule that refused them and why (deny, permit, cap, proxy).',
  pop3d_connections_open: 'Connections open now.',
  pop3d_tls_handshake_failures_total:
    'TLS handshakes (POP3S and STLS) that did not finish: refused, timed out or abandoned.',
  pop3d_tls_handshakes_total: 'TLS handshakes (implicit TLS and STLS) by result and negotiated version.',
  pop3d_sessions_open: 'POP3 sessions open now, by state.',
  pop3d_session_duration_seconds: 'How long POP3 sessions lasted, from the greeting to the close.',
  pop3d_logins_total: 'Login attempts by result and mechanism.',
  pop3d_login_failure_delay_seconds: 'Delay the login throttle put before each failed login was answered.',
  pop3d_commands_total: 'POP3 commands by verb and reply (ok, err).',
  pop3d_messages_retrieved_total: 'Messages sent whole by RETR.',
  pop3d_messages_deleted_total: 'Messages removed from the Maildir at QUIT (marked by DELE).',
  pop3d_sent_bytes_total: 'Bytes written to POP3 clients (TLS records included), counted when a session closes.',
  pop3d_maildir_scan_duration_seconds:
    'Time to lock and list a mailbox at login (a listing reused from the cache included).',
  pop3d_config_apply_duration_seconds:
    'Time to apply a configuration (PUT /v1/config and the first one at start), whatever the result.',
  pop3d_uptime_seconds: 'Seconds since the daemon started.',
  pop3d_config_generation: 'Generation of the configuration in force.',
  pop3d_config_applies_total: 'Configuration applies by result (validate dry runs that are invalid count as invalid).',
  pop3d_admin_tls_handshake_failures_total:
    'Handshakes refused on --admin-listen: no client certificate, one from another CA, or not TLS 1.3.',
} as const;

type SeriesName = keyof typeof HELP;

/** Why a connection was refused before its greeting. `proxy`: a PROXY-protocol header was refused. */
export type RefusalReason = 'deny' | 'permit' | 'cap' | 'proxy';
export type LoginMechanism = 'USER' | 'PLAIN';
/** The TLS versions Node.js negotiates; anything else is counted as `other`. */
const TLS_VERSIONS = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

/** The rule names connection control reports (pop3-server.ts) and the reason each stands for. */
export function refusalReason(rule: string): RefusalReason {
  if (rule === 'permit') return 'permit';
  if (rule.startsWith('proxy-')) return 'proxy';
  if (rule === 'maxConnections' || rule === 'maxConnectionsPerIp') return 'cap';
  return 'deny';
}

/** Read at scrape time: numbers the daemon already holds (O(1) each, no walk over sessions). */
export interface DaemonGaugeSources {
  version: string;
  startedAt: number;
  /** Keys (listenerKey) of the listeners serving now. */
  listeners(): Iterable<string>;
  generation(): number;
  applies(): Readonly<Record<string, number>>;
  /** Handshakes refused on --admin-listen (no client certificate, one from another CA, or not TLS 1.3). */
  adminHandshakeFailures(): number;
}

/**
 * Counts the replies of one session's commands: the first reply line after a
 * command says whether it succeeded (`+`) or failed (`-ERR`).
 */
export class CommandCounter {
  private verb: string | undefined;

  constructor(private readonly metrics: DaemonMetrics) {}

  /** `verb` is a name from the command table, or `other` for anything else. */
  command(verb: string): void {
    this.verb = verb;
  }

  /** Every line the session writes; only the first after a command counts. */
  reply(line: string): void {
    const verb = this.verb;
    // RFC 5034 section 4: "+ " is a SASL challenge; AUTH's result is the reply after the client's response.
    if (verb === undefined || line.startsWith('+ ')) return;
    this.verb = undefined;
    this.metrics.commandReplied(verb, line.charCodeAt(0) === 0x2b /* + */);
  }
}

export class DaemonMetrics {
  readonly registry = new Registry();

  private readonly up = this.gauge('pop3d_up', ['version']);
  /** Set by watch(): the listeners serving now, shown at 0 from the start so rate() has a first sample. */
  private listenerKeys: () => Iterable<string> = () => [];
  private readonly listenerConnections = this.counter(
    'pop3d_listener_connections_total',
    ['listener', 'outcome'],
    (counter) => {
      for (const listener of this.listenerKeys()) {
        counter.inc({ listener, outcome: 'accepted' }, 0);
        counter.inc({ listener, outcome: 'refused' }, 0);
      }
    },
  );
  private readonly accepted = this.counter('pop3d_connections_accepted_total');
  private readonly refused = this.counter('pop3d_connections_refused_total', ['rule', 'reason']);
  private readonly connectionsOpen = this.gauge('pop3d_connections_open');
  private readonly tlsFailures = this.counter('pop3d_tls_handshake_failures_total');
  private readonly tlsHandshakes = this.counter('pop3d_tls_handshakes_total', ['result', 'version']);
  private readonly sessionsOpen = this.gauge('pop3d_sessions_open', ['state']);
  private readonly sessionDuration = this.histogram('pop3d_session_duration_seconds', SESSION_BUCKETS);
  private readonly logins = this.counter('pop3d_logins_total', ['result', 'mechanism']);
  private readonly loginDelay = this.histogram('pop3d_login_failure_delay_seconds', DELAY_BUCKETS);
  private readonly commands = this.counter('pop3d_commands_total', ['command', 'result']);
  private readonly retrieved = this.counter('pop3d_messages_retrieved_total');
  private readonly deleted = this.counter('pop3d_messages_deleted_total');
  private readonly sentBytes = this.counter('pop3d_sent_bytes_total');
  private readonly scanDuration = this.histogram('pop3d_maildir_scan_duration_seconds', SCAN_BUCKETS);
  private readonly applyDuration = this.histogram('pop3d_config_apply_duration_seconds', APPLY_BUCKETS);

  constructor() {
    // process_* and nodejs_* (resident memory, CPU, heap, event-loop lag, GC): the Node.js exporter convention.
    collectDefaultMetrics({ register: this.registry });
    for (const name of EXCLUDED_DEFAULTS) this.registry.removeSingleMetric(name);
    this.sessionsOpen.set({ state: 'authorization' }, 0);
    this.sessionsOpen.set({ state: 'transaction' }, 0);
    for (const result of ['success', 'failure'])
      for (const mechanism of ['USER', 'PLAIN']) this.logins.inc({ result, mechanism }, 0);
  }

  /** The series whose values the daemon already keeps: read when scraped. */
  watch(sources: DaemonGaugeSources): void {
    this.up.set({ version: sources.version }, 1);
    this.listenerKeys = sources.listeners;
    this.gauge('pop3d_uptime_seconds', [], (gauge) => gauge.set(Math.round((Date.now() - sources.startedAt) / 1000)));
    this.gauge('pop3d_config_generation', [], (gauge) => gauge.set(sources.generation()));
    this.counter(
      'pop3d_config_applies_total',
      ['result'],
      // The controller keeps these counts for GET /v1/status; the series shows the same numbers.
      (counter) => {
        counter.reset();
        for (const [result, n] of Object.entries(sources.applies())) counter.inc({ result }, n);
      },
    );
    this.counter('pop3d_admin_tls_handshake_failures_total', [], (counter) => {
      counter.reset();
      counter.inc(sources.adminHandshakeFailures());
    });
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  connectionAccepted(listener: string): void {
    this.accepted.inc();
    this.listenerConnections.inc({ listener, outcome: 'accepted' });
    this.connectionsOpen.inc();
  }

  connectionClosed(): void {
    this.connectionsOpen.dec();
  }

  /** One refused connection. `rule` is a deny pattern, `permit`, a limit's name, or a PROXY rule. */
  countRefusal(rule: string, reason: RefusalReason, listener?: string): void {
    this.refused.inc({ rule, reason });
    if (listener !== undefined) this.listenerConnections.inc({ listener, outcome: 'refused' });
  }

  /** `protocol` is what TLSSocket.getProtocol() says once the handshake is done. */
  tlsHandshakeSucceeded(protocol: string | null): void {
    const version = protocol !== null && TLS_VERSIONS.has(protocol) ? protocol : 'other';
    this.tlsHandshakes.inc({ result: 'success', version });
  }

  /**
   * A handshake that did not finish, POP3S or STLS (tls/upgrade.ts). Its version is `none`: until the handshake is done
   * TLSSocket.getProtocol() names the highest version offered, not one negotiated.
   */
  tlsHandshakeFailed(): void {
    this.tlsHandshakes.inc({ result: 'failure', version: 'none' });
    this.tlsFailures.inc();
  }

  /** A session greeted its client. Call the returned function when it closes, with its raw socket's byte count. */
  sessionStarted(): (loggedIn: boolean, bytesWritten: number) => void {
    this.sessionsOpen.inc({ state: 'authorization' });
    const end = this.sessionDuration.startTimer();
    return (loggedIn, bytesWritten) => {
      end();
      this.sessionsOpen.dec({ state: loggedIn ? 'transaction' : 'authorization' });
      this.sentBytes.inc(bytesWritten);
    };
  }

  commandCounter(): CommandCounter {
    return new CommandCounter(this);
  }

  commandReplied(command: string, ok: boolean): void {
    this.commands.inc({ command, result: ok ? 'ok' : 'err' });
    if (command === 'RETR' && ok) this.retrieved.inc();
  }

  /** A login succeeded: the session is in TRANSACTION now. */
  loginSucceeded(mechanism: LoginMechanism): void {
    this.logins.inc({ result: 'success', mechanism });
    this.sessionsOpen.dec({ state: 'authorization' });
    this.sessionsOpen.inc({ state: 'transaction' });
  }

  /** A login failed on its credentials; `delayMs` is what the throttle made it wait. */
  loginFailed(mechanism: LoginMechanism, delayMs: number): void {
    this.logins.inc({ result: 'failure', mechanism });
    this.loginDelay.observe(delayMs / 1000);
  }

  messagesDeleted(count: number): void {
    this.deleted.inc(count);
  }

  /** Times opening a mailbox (lock and listing); failures are not observed. */
  async timeMaildirScan<T>(open: () => Promise<T>): Promise<T> {
    const end = this.scanDuration.startTimer();
    const mailbox = await open();
    end();
    return mailbox;
  }

  /** Times one apply, whatever its outcome. */
  async timeApply<T>(apply: () => Promise<T>): Promise<T> {
    const end = this.applyDuration.startTimer();
    try {
      return await apply();
    } finally {
      end();
    }
  }

  /** `beforeScrape` sets the series' values at each scrape (prom-client's `collect`). */
  private counter(name: SeriesName, labelNames: string[] = [], beforeScrape?: (counter: Counter) => void): Counter {
    return new Counter({
      name,
      help: HELP[name],
      labelNames,
      registers: [this.registry],
      ...collectWith(beforeScrape),
    });
  }

  private histogram(name: SeriesName, buckets: number[]): Histogram {
    return new Histogram({ name, help: HELP[name], buckets, registers: [this.registry] });
  }

  private gauge(name: SeriesName, labelNames: string[] = [], beforeScrape?: (gauge: Gauge) => void): Gauge {
    return new Gauge({ name, help: HELP[name], labelNames, registers: [this.registry], ...collectWith(beforeScrape) });
  }
}

function collectWith<M>(beforeScrape: ((metric: M) => void) | undefined): { collect?: (this: M) => void } {
  return beforeScrape
    ? {
        collect(this: M) {
          beforeScrape(this);
        },
      }
    : {};
}
