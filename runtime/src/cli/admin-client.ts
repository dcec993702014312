/**
 * HTTP over the daemon's admin Unix socket: how pop3ctl, the Pulumi provider
 * and the tests talk to pop3d. Every request has a deadline, so a hung daemon
 * cannot hang its caller.
 */
import { request } from 'node:http';

/** How long one admin request may take, in milliseconds. Default 30e3 (30 s): an apply binds sockets and fsyncs. */
export const ADMIN_TIMEOUT_MS = 30_000;

export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** The raw body text (for non-JSON answers such as /metrics). */
  text: string;
}

/** Connection errors that mean "no daemon answers at this path". */
const UNREACHABLE_CODES = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'];

export class DaemonUnreachableError extends Error {
  readonly code = 'DAEMON_UNREACHABLE';
  /** ENOENT, ECONNREFUSED, EACCES or ENOTSOCK. */
  readonly osCode: string;
  constructor(
    readonly socketPath: string,
    cause: NodeJS.ErrnoException,
  ) {
    const why =
      cause.code === 'ENOENT'
        ? 'no socket there: is pop3d running, and is this its --admin-socket?'
        : cause.code === 'EACCES'
          ? 'permission denied: the socket is mode 0600, run as the user pop3d runs as'
          : cause.code === 'ECONNREFUSED'
            ? 'nothing is listening: the daemon has stopped'
            : cause.message;
    super(`cannot reach pop3d at ${socketPath}: ${why}`);
    this.name = 'DaemonUnreachableError';
    this.osCode = cause.code ?? 'UNKNOWN';
  }

  /** True when the daemon is gone (as opposed to present but refusing us). */
  get gone(): boolean {
    return this.osCode === 'ENOENT' || this.osCode === 'ECONNREFUSED';
  }
}

export function adminRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        timeout: ADMIN_TIMEOUT_MS,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (String(res.headers['content-type']).startsWith('application/json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`pop3d at ${socketPath} did not answer ${method} ${path} within ${ADMIN_TIMEOUT_MS} ms`)),
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(UNREACHABLE_CODES.includes(error.code ?? '') ? new DaemonUnreachableError(socketPath, error) : error),
    );
    req.end(payload);
  });
}
