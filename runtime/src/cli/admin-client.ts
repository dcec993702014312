/** A small client for the admin API over its Unix socket (used by pop3ctl and the tests). */
import { request } from 'node:http';

export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export class DaemonUnreachableError extends Error {
  readonly code = 'DAEMON_UNREACHABLE';
  constructor(
    readonly socketPath: string,
    cause: NodeJS.ErrnoException,
  ) {
    const why =
      cause.code === 'ENOENT'
        ? 'no socket there: is pop3d running, and is this its --admin-socket?'
        : cause.code === 'EACCES'
          ? 'permission denied: the socket is mode 0600, run as the daemon user'
          : cause.code === 'ECONNREFUSED'
            ? 'nothing is listening: the daemon has stopped'
            : cause.message;
    super(`cannot reach pop3d at ${socketPath}: ${why}`);
    this.name = 'DaemonUnreachableError';
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
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(error.code ?? '')
          ? new DaemonUnreachableError(socketPath, error)
          : error,
      ),
    );
    req.end(payload);
  });
}
