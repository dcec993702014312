/**
 * Why the client could not talk to the daemon: one class per failure, each
 * with a stable `code`, naming the target (`where`) and saying what to do.
 * Callers match on the class or on `code`, never on the text.
 */

export abstract class AdminTransportError extends Error {
  abstract readonly code: string;
  constructor(
    /** The target as the user wrote it: a socket path, `https://host:port`, `ssh://user@host:port/path`. */
    readonly where: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Nothing answers there: no socket, connection refused, no route, or the daemon is not behind the SSH host. */
export class DaemonUnreachableError extends AdminTransportError {
  readonly code = 'DAEMON_UNREACHABLE';
  /** The OS error (ENOENT, ECONNREFUSED, EACCES, EHOSTUNREACH, …), or the SSH channel failure. */
  readonly osCode: string;
  constructor(
    where: string,
    cause: { code?: string; message: string },
    private readonly local = true,
    remedy?: string,
  ) {
    super(where, `cannot reach pop3d at ${where}: ${remedy ?? describe(cause, local)}`);
    this.osCode = cause.code ?? 'UNKNOWN';
  }

  /**
   * True when no daemon is there at all (a local socket that is missing or
   * refuses), as opposed to one that refuses us. A remote host that does not
   * answer is never "gone": it may only be down.
   */
  get gone(): boolean {
    return this.local && (this.osCode === 'ENOENT' || this.osCode === 'ECONNREFUSED');
  }
}

function describe(cause: { code?: string; message: string }, local: boolean): string {
  switch (cause.code) {
    case 'ENOENT':
      return 'no socket there: is pop3d running, and is this its --admin-socket?';
    case 'EACCES':
      return 'permission denied: the socket is mode 0600, run as the user pop3d runs as';
    case 'ECONNREFUSED':
      return local
        ? 'nothing is listening: the daemon has stopped'
        : 'connection refused: nothing listens on that port (is pop3d started with --admin-listen there, or sshd running?)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host: check the address and the network';
    case 'ENOTSOCK':
      return 'that path is not a socket: give pop3d --admin-socket';
    default:
      return cause.message;
  }
}

/** The deadline passed: the host does not answer, or the daemon hangs. */
export class AdminTimeoutError extends AdminTransportError {
  readonly code = 'ADMIN_TIMEOUT';
  constructor(
    where: string,
    what: string,
    readonly timeoutMs: number,
  ) {
    super(
      where,
      `pop3d at ${where} did not answer ${what} within ${timeoutMs} ms: is the host up and the port open to you?`,
    );
  }
}

/** The daemon refused the TLS handshake: no client certificate, or one its --admin-client-ca/--admin-reader-ca did not issue. */
export class AdminTlsRejectedError extends AdminTransportError {
  readonly code = 'ADMIN_TLS_REJECTED';
  constructor(
    where: string,
    readonly tlsCode: string,
  ) {
    super(
      where,
      `pop3d at ${where} refused the TLS handshake (${tlsCode}): give a client certificate issued by its ` +
        '--admin-client-ca (or --admin-reader-ca to read only), with its key, over TLS 1.3',
    );
  }
}

/** The daemon's certificate is not one to trust: not issued by the given CA, or it does not name the host. */
export class AdminServerUntrustedError extends AdminTransportError {
  readonly code = 'ADMIN_TLS_UNTRUSTED';
  constructor(
    where: string,
    readonly tlsCode: string,
    detail: string,
  ) {
    super(
      where,
      `the certificate presented at ${where} is not trusted (${tlsCode}: ${detail}): give the CA that issued ` +
        "pop3d's --admin-tls-cert, and a certificate whose subjectAltName names this host or address",
    );
  }
}

/** The SSH server's host key is not the one given: never trusted on first use. */
export class SshHostKeyError extends AdminTransportError {
  readonly code = 'ADMIN_SSH_HOST_KEY';
  constructor(
    where: string,
    /** What the server showed, as OpenSSH prints it (`ssh-ed25519 SHA256:…`). */
    readonly presented: string,
  ) {
    super(
      where,
      `the SSH host key of ${where} does not match the one given (the server presented ${presented}): ` +
        'if the host was rebuilt, check its new key out of band (ssh-keyscan on the host itself) and give that one; ' +
        'otherwise someone may be impersonating it',
    );
  }
}

/** The SSH server did not accept the user and key. */
export class SshAuthError extends AdminTransportError {
  readonly code = 'ADMIN_SSH_AUTH';
  constructor(where: string, user: string) {
    super(
      where,
      `${where} did not accept user ${user} with the given private key: add its public key to that user's ` +
        'authorized_keys, and check the user name',
    );
  }
}

/** The host is reached but the daemon's socket is not open to us there (forwarding refused, or the socket's mode). */
export class AdminPermissionError extends AdminTransportError {
  readonly code = 'ADMIN_PERMISSION_DENIED';
  constructor(where: string, detail: string) {
    super(where, `${where}: ${detail}`);
  }
}

/** The target, a key, a certificate or a known-hosts entry is malformed; nothing was sent. */
export class AdminTargetError extends AdminTransportError {
  readonly code = 'ADMIN_BAD_TARGET';
}
