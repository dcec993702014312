/**
 * The canonical POP3 service configuration: what the schema produces from any
 * accepted input, what the daemon stores, compares and shows. Every default is
 * filled in, every bind carries its port, addresses are normalised and lists
 * are sorted, so two equivalent inputs give deep-equal canonical values.
 */

/** One listening endpoint. `address` is `*` (every IPv4 and IPv6 address) or a normalised IP. */
export interface Bind {
  address: string;
  port: number;
  /** Present (and true) when connections must begin with a PROXY protocol header; see `proxyProtocol`. */
  proxy?: true;
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Certificate and key as paths on the daemon host. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  minVersion: TlsVersion;
}

/** Certificate and key inline, as PEM text. `keyPem` is a secret. */
export interface TlsInline {
  certPem: string;
  keyPem: string;
  minVersion: TlsVersion;
}

/**
 * An inline key as the daemon shows it: the key itself never leaves the
 * daemon, its fingerprint does (`sha256:<hex>` of the key's PKCS#8 DER).
 */
export interface TlsInlineRedacted {
  certPem: string;
  keyFingerprint: string;
  minVersion: TlsVersion;
}

export type TlsConfig = TlsFiles | TlsInline;

export interface Limits {
  /** Longest command line accepted, in octets including CRLF. RFC 2449 needs at least 255. Default 1024. */
  maxLineLength: number;
  /** Idle time allowed before a successful login, in seconds. Default 180 (3 min). */
  authTimeoutSeconds: number;
  /** Idle time allowed after login, in seconds. Default 600 (RFC 1939: at least 10 minutes). */
  idleTimeoutSeconds: number;
  /** Unknown or malformed commands tolerated in one session; the next one disconnects. Default 10. */
  maxBadCommands: number;
  /** Concurrent connections across all listeners. Default 1000. */
  maxConnections: number;
  /** Concurrent connections from one client address. Default 50. */
  maxConnectionsPerIp: number;
  /** Delay before answering a failed login, in milliseconds; doubles per recent failure from the same address. Default 2000. */
  loginFailureDelayMs: number;
  /** Upper bound of that growing delay, in milliseconds. Default 15000. */
  loginFailureDelayMaxMs: number;
}

export interface SslSettings {
  enabled: boolean;
  binds: Bind[];
  port: number;
}

export interface CanonicalConfig {
  binds: Bind[];
  port: number;
  ssl: SslSettings;
  starttls: boolean;
  tls?: TlsConfig;
  permit: string[];
  deny: string[];
  /** Allow USER/PASS and AUTH PLAIN on an unencrypted connection from a non-loopback peer. Default false. */
  allowPlaintextAuth: boolean;
  /** When an apply adds a deny (or narrows permit), also close open sessions from addresses now refused. Default false. */
  dropDeniedSessions: boolean;
  limits: Limits;
  /** Present when given: who may send PROXY protocol headers to binds marked `proxy`. */
  proxyProtocol?: ProxyProtocolSettings;
}

/** PROXY protocol (HAProxy's proxy-protocol.txt) on binds marked `proxy`. */
export interface ProxyProtocolSettings {
  /** Canonical access patterns (as permit/deny) of the balancers allowed to send a header; sorted. */
  trusted: string[];
  /** How long a trusted peer has to send the whole header after connecting, in seconds. Default 5. */
  timeoutSeconds: number;
}

/** A canonical config whose inline private key has been replaced by its fingerprint. */
export type RedactedConfig = Omit<CanonicalConfig, 'tls'> & { tls?: TlsFiles | TlsInlineRedacted };

/** One socket the daemon listens on, derived from a canonical config. */
export interface Listener {
  address: string;
  port: number;
  /** true for an implicit-TLS (POP3S, RFC 8314) listener. */
  tls: boolean;
  /** Present (and true) when each connection begins with a PROXY protocol header. */
  proxy?: true;
}

/** One validation failure: `path` is `ssl.binds[2].port`-style, `message` a sentence for an operator. */
export interface ConfigIssue {
  path: string;
  code: string;
  message: string;
}
