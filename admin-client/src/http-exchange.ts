/**
 * One HTTP/1.1 request and its whole answer, under a deadline that covers
 * connecting, sending and reading: a host that never answers cannot hang the
 * caller. Each transport gives the connection; this file does the HTTP.
 */
import { request, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { AdminTimeoutError } from './errors';

/** How long one admin request may take, in milliseconds. Default 30e3 (30 s): an apply binds sockets and fsyncs. */
export const ADMIN_TIMEOUT_MS = 30_000;

export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, parsed when it is JSON. */
  body: unknown;
  /** The raw body text (for non-JSON answers such as /metrics). */
  text: string;
}

export interface Exchange {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Connections that have carried an answer: an error on one of them is not about its handshake. */
const answered = new WeakSet<object>();

/**
 * Sends `exchange` with `options` (the transport's connection settings);
 * `classify` turns a connection error into the transport's typed error,
 * told whether the connection had already carried an answer (kept alive).
 */
export function httpExchange(
  options: RequestOptions,
  exchange: Exchange,
  where: string,
  timeoutMs: number,
  classify: (error: NodeJS.ErrnoException, reused: boolean) => Error,
  send: (options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest = request,
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const payload = exchange.body === undefined ? undefined : JSON.stringify(exchange.body);
    let settled = false;
    const finish = (error: Error | undefined, response?: AdminResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(response!);
    };
    const req = send(
      {
        ...options,
        method: exchange.method,
        path: exchange.path,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
          ...exchange.headers,
        },
      },
      (res) => {
        answered.add(res.socket);
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
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
        res.on('error', (error: NodeJS.ErrnoException) => finish(classify(error, true)));
      },
    );
    const timer = setTimeout(() => {
      const error = new AdminTimeoutError(where, `${exchange.method} ${exchange.path}`, timeoutMs);
      finish(error);
      req.destroy(error);
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish(
        error instanceof AdminTimeoutError
          ? error
          : classify(error, req.socket !== null && req.socket !== undefined && answered.has(req.socket)),
      ),
    );
    req.end(payload);
  });
}
