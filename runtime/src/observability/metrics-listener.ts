/**
 * --metrics-listen: plain HTTP for Prometheus. `GET /metrics` (and HEAD) and
 * nothing else: no configuration, no status, no secrets. It shares the
 * registry the admin API's /metrics reads.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ListenAddress, parseListenAddress } from '../net/listen-address';
import type { DaemonMetrics } from './metrics';

class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
  readonly code = 'metrics_listen_failed';
}

/** --metrics-listen's `<address:port>` (net/listen-address.ts; port 0 refused); MetricsListenError otherwise. */
export function parseMetricsListen(value: string): ListenAddress {
  try {
    return parseListenAddress(value, '--metrics-listen', { examplePort: 9110 });
  } catch {
    throw new MetricsListenError(
      `--metrics-listen ${JSON.stringify(value)} is not <address:port> (e.g. 127.0.0.1:9110 or [::1]:9110)`,
    );
  }
}

function reply(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(body);
}

function createMetricsServer(metrics: DaemonMetrics): Server {
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      reply(response, 404, 'not found: this listener serves GET /metrics only\n');
      return;
    }
    // HEAD is GET without the body (RFC 9110 section 9.3.2); Node's response drops the body itself.
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply(response, 405, 'method not allowed: GET /metrics only\n', { Allow: 'GET, HEAD' });
      return;
    }
    metrics.render().then(
      (text) => reply(response, 200, text, { 'Content-Type': metrics.contentType }),
      () => reply(response, 500, 'metrics unavailable; see the daemon log\n'),
    );
  };
  return createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, handle);
}

/** Listens on `value` (the flag's text); rejects with MetricsListenError naming the flag. */
export async function listenForMetrics(metrics: DaemonMetrics, value: string): Promise<Server> {
  const { host, port } = parseMetricsListen(value);
  const server = createMetricsServer(metrics);
  server.listen(port, host);
  try {
    // once() rejects when 'error' comes first (address in use, not on this host).
    await once(server, 'listening');
  } catch (error) {
    throw new MetricsListenError(
      `--metrics-listen ${value}: cannot listen (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  return server;
}
