/**
 * The admin API: HTTP/1.1 over the Unix socket and, when started with
 * --admin-listen, over TLS (tls-listener.ts hands its connections here, so
 * both serve the same routes and codes). Routes are one table
 * (path -> method -> handler); every error body is `{code, message, issues?}`
 * with the status of its code (errors.ts).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log';
import { UNIX_IDENTITY, type AdminIdentity, type ApplyHistory } from './apply-history';
import { AdminError } from './errors';
import type { ConfigController } from './config-controller';
import { INSTANCE_ID_HEADER } from './instance-id';
import { IF_OWNER_HEADER, OWNER_HEADER, ownerChangeOf, ownerHeaderValue } from './owner';
import type { DaemonMetrics } from '../observability/metrics';
import type { StatusReport } from './status';

/** Largest request body accepted, in bytes: a config with a PEM chain is a few KB. */
const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (request: IncomingMessage) => Promise<Reply>;
interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  text?: boolean;
}

export interface AdminApiDeps {
  controller: ConfigController;
  status: () => StatusReport;
  /** The same registry --metrics-listen serves. */
  metrics: DaemonMetrics;
  log: Logger;
  /** The daemon's identity (instance-id.ts), sent with the configuration as `Pop3d-Instance-Id`. */
  instanceId: string;
  history: ApplyHistory;
  /** Who sent a request; default: everyone is the socket's own user. */
  identify?: (request: IncomingMessage) => AdminIdentity;
}

export function createAdminApi({
  controller,
  status,
  metrics,
  log,
  instanceId,
  history,
  identify = () => UNIX_IDENTITY,
}: AdminApiDeps): Server {
  /** PUT and POST change or plan a change: a reader certificate may do neither. */
  const mayApply = (identity: AdminIdentity): void => {
    if (!identity.mayApply)
      throw new AdminError(
        'forbidden',
        `${identity.by} may only read: its certificate comes from --admin-reader-ca; apply with one from --admin-client-ca`,
      );
  };

  const routes: Record<string, Record<string, Handler>> = {
    '/v1/config': {
      GET: async () => {
        const view = controller.view();
        // The body stays the canonical configuration alone; who owns it is a header (owner.ts).
        return {
          body: { ...view.config },
          headers: {
            ETag: view.etag,
            'X-Config-Generation': String(view.generation),
            'Pop3d-Owner': ownerHeaderValue(view.owner),
            [INSTANCE_ID_HEADER]: instanceId,
          },
        };
      },
      PUT: async (request) => {
        const identity = identify(request);
        let outcome;
        try {
          mayApply(identity);
          // Read the owner headers before the body: a malformed one fails before anything is parsed.
          const owner = {
            change: ownerChangeOf(header(request, OWNER_HEADER)),
            ifOwner: header(request, IF_OWNER_HEADER),
          };
          outcome = await controller.apply(await readJson(request), header(request, 'if-match'), owner);
        } catch (error) {
          history.record(identity, error instanceof AdminError ? error.code : 'internal', controller.currentGeneration);
          throw error;
        }
        history.record(identity, outcome.applied ? 'applied' : 'unchanged', outcome.generation);
        return {
          body: {
            applied: outcome.applied,
            generation: outcome.generation,
            etag: outcome.etag,
            plan: outcome.plan,
            changes: outcome.changes,
            config: outcome.config,
            owner: outcome.owner,
          },
          headers: {
            ETag: outcome.etag,
            'Pop3d-Owner': ownerHeaderValue(outcome.owner),
            [INSTANCE_ID_HEADER]: instanceId,
          },
        };
      },
    },
    '/v1/config/validate': {
      POST: async (request) => {
        mayApply(identify(request));
        return { body: await controller.validate(await readJson(request)) };
      },
    },
    '/v1/status': {
      GET: async () => ({ body: status() }),
    },
    '/metrics': {
      GET: async () => ({
        body: await metrics.render(),
        text: true,
        headers: { 'Content-Type': metrics.contentType },
      }),
    },
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    // HEAD is GET without the body (RFC 9110 section 9.3.2); Node's response drops the body itself.
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
    const handler = route?.[method];
    const work = !route
      ? Promise.reject(new AdminError('not_found', `no such path: ${path}; see GET /v1/config, /v1/status, /metrics`))
      : !handler
        ? Promise.reject(
            new AdminError('method_not_allowed', `${path} takes ${allowed(route).join(', ')}`, undefined, {
              allow: allowed(route),
            }),
          )
        : handler(request);
    work.then(
      (reply) => send(response, reply.status ?? 200, reply.body, reply.headers, reply.text),
      (error: unknown) => {
        const adminError =
          error instanceof AdminError ? error : new AdminError('internal', 'internal error; see the daemon log');
        if (!(error instanceof AdminError)) log.error('admin.internal_error', { path, error: String(error) });
        const headers: Record<string, string> = route && !handler ? { Allow: allowed(route).join(', ') } : {};
        send(response, adminError.status, adminError.toBody(), headers);
        // Whatever of an oversized body is left unread is not worth reading.
        if (adminError.code === 'body_too_large') request.destroy();
      },
    );
  };
  // requireHostHeader off: a Host header means nothing on a Unix socket, and Node's own refusal
  // of a request without one is a bare 400 without the {code, message} body every error has.
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, requireHostHeader: false }, handle);
  // An `Expect` other than 100-continue: Node would answer a bare 417; serve the request instead
  // (RFC 9110 section 10.1.1 lets a server ignore an expectation it does not know).
  server.on('checkExpectation', handle);
  // Requests the HTTP parser cannot read get an error body like every other error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const adminError =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new AdminError('headers_too_large', 'the request headers are too large')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new AdminError('request_timeout', 'the request was not received in time')
          : new AdminError('bad_request', `the request is not well-formed HTTP/1.1 (${error.code ?? 'parse error'})`);
    const payload = `${JSON.stringify(adminError.toBody(), null, 2)}\n`;
    socket.end(
      `HTTP/1.1 ${adminError.status} ${STATUS_CODES[adminError.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(payload)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${payload}`,
    );
  });
  return server;
}

/** The methods a route answers: its own, and HEAD wherever GET is. */
function allowed(route: Readonly<Record<string, unknown>>): string[] {
  const methods = Object.keys(route);
  return methods.includes('GET') ? [...methods, 'HEAD'] : methods;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  text = false,
): void {
  if (response.headersSent) return;
  const payload = text ? String(body) : `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(payload);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const type = header(request, 'content-type');
  if (
    type !== undefined &&
    !/^application\/(json|[\w.+-]+\+json)\b/i.test(type) &&
    !/^text\/plain\b/i.test(type) &&
    !/^application\/x-www-form-urlencoded\b/i.test(type)
  ) {
    throw new AdminError('unsupported_media_type', `send the configuration as application/json, not ${type}`);
  }
  const declared = Number(header(request, 'content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new AdminError('body_too_large', `request body over ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminError('body_too_large', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new AdminError('bad_json', 'the request has no body; send the configuration as JSON');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AdminError('bad_json', `the request body is not JSON: ${(error as Error).message}`);
  }
}
