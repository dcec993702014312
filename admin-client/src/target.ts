/**
 * Where a daemon's admin API is, in the three shapes of the provider's `admin`
 * input (provider/README.md, "Reaching the daemon: `admin`"), and the URL form pop3ctl takes (`unix:///path`,
 * `https://host:port`, `ssh://user@host[:port]/path`).
 */
import { AdminTargetError } from './errors';

/** The daemon's Unix socket on this machine. */
export interface SocketTarget {
  socket: string;
}

/** The admin listener (--admin-listen) over TLS 1.3 with a client certificate. */
export interface TlsTarget {
  /** `https://host:port`. */
  url: string;
  /** PEM of the CA that issued the daemon's --admin-tls-cert. */
  caPem: string;
  /** PEM of the client certificate (from the daemon's --admin-client-ca or --admin-reader-ca). */
  certPem: string;
  /** PEM of the client certificate's private key. A secret. */
  keyPem: string;
}

/** The daemon's Unix socket on another host, through OpenSSH streamlocal forwarding. */
export interface SshTarget {
  ssh: {
    host: string;
    /** Default 22. */
    port?: number;
    username: string;
    /** The user's private key (OpenSSH or PEM format). A secret. */
    privateKey: string;
    /**
     * The host's public key in known_hosts form (`ssh-ed25519 AAAA…`, optionally preceded by host
     * names), or several such lines. Required: the client never trusts a key on first use.
     */
    hostKey: string;
  };
  /** The daemon's --admin-socket on that host. */
  socket: string;
}

export type AdminTarget = SocketTarget | TlsTarget | SshTarget;

export function isTlsTarget(target: AdminTarget): target is TlsTarget {
  return 'url' in target;
}

export function isSshTarget(target: AdminTarget): target is SshTarget {
  return 'ssh' in target;
}

/** How a target is named in messages: the socket path, `https://host:port`, `ssh://user@host:port/path`. */
export function describeTarget(target: AdminTarget): string {
  if (isTlsTarget(target)) return target.url;
  if (isSshTarget(target)) {
    const { host, port, username } = target.ssh;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    return `ssh://${username}@${hostPart}:${port ?? 22}${target.socket}`;
  }
  return target.socket;
}

/** The parts of `https://host:port`, or an error naming what is wrong. */
export function parseHttpsUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AdminTargetError(url, `${url} is not a URL; write https://host:port`);
  }
  if (parsed.protocol !== 'https:')
    throw new AdminTargetError(
      url,
      `${url}: the admin listener speaks only https:// (TLS 1.3 with a client certificate)`,
    );
  if (parsed.port === '')
    throw new AdminTargetError(url, `${url} names no port; write https://host:port (the daemon's --admin-listen)`);
  if (parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '')
    throw new AdminTargetError(url, `${url}: write only https://host:port, without a path or user`);
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) };
}

/** What the URL form needs read from files: the TLS or SSH material, already loaded. */
export interface TargetMaterial {
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  privateKey?: string;
  hostKey?: string;
}

/**
 * `unix:///path`, `https://host:port` or `ssh://user@host[:port]/path` with the
 * material for it; names the missing option (as pop3ctl spells it) when one is.
 */
export function targetFromUrl(url: string, material: TargetMaterial): AdminTarget {
  if (url.startsWith('unix://')) {
    const socket = url.slice('unix://'.length);
    if (!socket.startsWith('/')) throw new AdminTargetError(url, `${url}: write unix:///absolute/path/to/admin.sock`);
    return { socket };
  }
  if (url.startsWith('https://')) {
    parseHttpsUrl(url);
    const missing = (
      [
        ['caPem', '--tls-ca'],
        ['certPem', '--tls-cert'],
        ['keyPem', '--tls-key'],
      ] as const
    ).filter(([field]) => material[field] === undefined);
    if (missing.length > 0)
      throw new AdminTargetError(url, `${url} needs ${missing.map(([, flag]) => flag).join(', ')}`);
    return { url, caPem: material.caPem!, certPem: material.certPem!, keyPem: material.keyPem! };
  }
  if (url.startsWith('ssh://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AdminTargetError(url, `${url} is not a URL; write ssh://user@host[:port]/path/to/admin.sock`);
    }
    if (parsed.username === '' || parsed.pathname === '/' || parsed.pathname === '')
      throw new AdminTargetError(url, `${url}: write ssh://user@host[:port]/path/to/admin.sock`);
    const missing = (
      [
        ['privateKey', '--ssh-key'],
        ['hostKey', '--ssh-known-hosts'],
      ] as const
    ).filter(([field]) => material[field] === undefined);
    if (missing.length > 0)
      throw new AdminTargetError(
        url,
        `${url} needs ${missing.map(([, flag]) => flag).join(', ')} (the host key is never trusted on first use)`,
      );
    return {
      ssh: {
        host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: parsed.port === '' ? 22 : Number(parsed.port),
        username: decodeURIComponent(parsed.username),
        privateKey: material.privateKey!,
        hostKey: material.hostKey!,
      },
      socket: decodeURIComponent(parsed.pathname),
    };
  }
  throw new AdminTargetError(url, `${url}: the target is unix:///path, https://host:port or ssh://user@host/path`);
}
