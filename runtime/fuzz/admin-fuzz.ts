/**
 * Property-based fuzzing of the admin API over its Unix socket: random
 * methods, paths, headers and bodies through a well-formed HTTP client, and
 * random bytes through a raw socket (broken request lines, bad framing,
 * NUL octets, oversized headers).
 *
 * The property, for every request:
 *   - an answer, if one comes, is HTTP; every error (4xx, 5xx) has a JSON
 *     body `{code, message}` with both non-empty strings;
 *   - no answer carries private-key material;
 *   - afterwards GET /v1/status answers 200 and POP3 is still served.
 *
 * A PUT whose body would really apply is let through only when it keeps the
 * daemon on its own loopback listener (the fuzzer must not bind `*:110`);
 * anything else gets a stale If-Match so it is validated and then refused.
 *
 * Shared by runtime/test/fuzz-admin-api.test.ts and runtime/fuzz/run.ts.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { listenersOf, parseConfig } from '@pop3-iac/schema';
import { configLikeArb, SECRET_MARKER } from './schema-fuzz';

export interface AdminTarget {
  socket: string;
  /** The daemon's one POP3 listener, 127.0.0.1:port. */
  port: number;
  /** The configuration to put back when a case changed it. */
  baseline: Record<string, unknown>;
}

export interface AdminReply {
  status: number;
  contentType: string;
  body: string;
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'CONNECT', 'PURGE'];
const PATHS = [
  '/v1/config',
  '/v1/config/',
  '/v1/config?x=1',
  '/v1/config#frag',
  '/V1/CONFIG',
  '/v1/config/validate',
  '/v1/config/validate?dry=1',
  '/v1/status',
  '/metrics',
  '/',
  '//v1/config',
  '/v1/../v1/config',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/v1/config%00',
  '/v1/' + 'a'.repeat(3000),
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
  'multipart/form-data; boundary=x',
  '',
  'application/jsonx',
];

const headerNameArb = fc.oneof(
  fc.constantFrom('If-Match', 'Accept', 'X-Forwarded-For', 'Authorization', 'Expect', 'Cookie', 'Range'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/),
);
const headerValueArb = fc.oneof(
  fc.constantFrom('*', '"stale"', 'W/"x"', '"a", "b"', '100-continue', '', 'bytes=0-1'),
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/).map((v) => v.trim()),
);

/** Configs the fuzzer may really apply: the daemon stays on its listener; rules and limits vary. */
function safeConfigArb(port: number): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      binds: fc.constant(`127.0.0.1 ${port}`),
      deny: fc.array(fc.constantFrom('10.*', '192.0.2.0/24', '2001:db8::/32', '198.51.100.7'), { maxLength: 3 }),
      permit: fc.constantFrom([], ['127.0.0.0/8'], ['127.0.0.1', '::1']),
      allowPlaintextAuth: fc.boolean(),
      limits: fc.record(
        {
          maxLineLength: fc.integer({ min: 255, max: 4096 }),
          maxBadCommands: fc.integer({ min: 1, max: 50 }),
          loginFailureDelayMs: fc.integer({ min: 0, max: 100 }),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['binds'] },
  );
}

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'bytes'; bytes: Uint8Array };

function bodyArb(port: number): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 3, arbitrary: fc.jsonValue().map((value): Body => ({ kind: 'json', value })) },
    { weight: 3, arbitrary: configLikeArb.map((value): Body => ({ kind: 'json', value })) },
    { weight: 3, arbitrary: safeConfigArb(port).map((value): Body => ({ kind: 'json', value })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Body => ({ kind: 'bytes', bytes })) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1024 * 1024 - 64, max: 1024 * 1024 + 64 })
        .map((n): Body => ({ kind: 'bytes', bytes: Buffer.alloc(n, 0x20) })),
    },
  );
}

export interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  contentType: string | undefined;
  body: Body;
  chunked: boolean;
}

export function httpCaseArb(port: number): fc.Arbitrary<HttpCase> {
  const route: fc.Arbitrary<[string, string]> = fc.oneof(
    // The routes that exist, so that bodies reach validation and apply...
    {
      weight: 3,
      arbitrary: fc.constantFrom<[string, string]>(
        ['PUT', '/v1/config'],
        ['PUT', '/v1/config'],
        ['POST', '/v1/config/validate'],
        ['GET', '/v1/config'],
        ['GET', '/v1/status'],
        ['GET', '/metrics'],
      ),
    },
    // ...and anything else.
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...METHODS) }, fc.stringMatching(/^[A-Z]{1,12}$/)),
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
          fc.string({ maxLength: 40 }).map((p) => '/' + encodeURI(p)),
        ),
      ),
    },
  );
  return fc
    .record({
      route,
      headers: fc.dictionary(headerNameArb, headerValueArb, { maxKeys: 4 }),
      contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
      body: bodyArb(port),
      chunked: fc.boolean(),
    })
    .map(({ route: [method, path], ...rest }) => ({ method, path, ...rest }));
}

/** Framing and hop-by-hop headers are the client's to set; random ones would only break the client. */
const RESERVED = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'content-type',
  'expect',
  'upgrade',
]);

/** Whether this case could really apply a configuration other than a safe one. */
function mustBeStale(c: HttpCase, port: number): boolean {
  if (c.method !== 'PUT' || c.body.kind !== 'json') return false;
  const result = parseConfig(c.body.value);
  if (!result.ok) return false;
  const listeners = listenersOf(result.config);
  return !(listeners.length === 1 && listeners[0]!.address === '127.0.0.1' && listeners[0]!.port === port);
}

function send(socketPath: string, c: HttpCase, port: number): Promise<AdminReply | undefined> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(c.headers)) if (!RESERVED.has(name.toLowerCase())) headers[name] = value;
  if (c.contentType !== undefined) headers['Content-Type'] = c.contentType;
  if (mustBeStale(c, port)) headers['If-Match'] = '"fuzz-stale-etag"';
  const payload =
    c.body.kind === 'none'
      ? undefined
      : c.body.kind === 'json'
        ? Buffer.from(JSON.stringify(c.body.value) ?? 'null')
        : Buffer.from(c.body.bytes);
  if (payload !== undefined && !c.chunked) headers['Content-Length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    let req: ReturnType<typeof request>;
    try {
      req = request({ socketPath, method: c.method, path: c.path, headers, agent: false, timeout: 10_000 });
    } catch (error) {
      // The client itself refuses (an invalid method token, say): nothing was sent.
      if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_')) return resolve(undefined);
      return reject(error as Error);
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: c.method === 'HEAD' ? '' : Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy(new Error('admin API did not answer within 10 s')));
    // The daemon may answer (413) and close before the body is all written: the answer counts.
    req.on('error', (error: NodeJS.ErrnoException) =>
      error.message.includes('did not answer') ? reject(error) : resolve(undefined),
    );
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

/** Random octets through a raw socket; the daemon's answer, if any, until it closes. */
export const rawRequestArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  fc
    .tuple(
      fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 8 })),
      fc.oneof(fc.constantFrom(...PATHS), fc.string({ maxLength: 20 })),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', '', 'http/1.1'),
      fc.array(
        fc.oneof(
          fc.constantFrom(
            'Content-Length: 5',
            'Content-Length: -1',
            'Content-Length: 99999999999999999999',
            'Content-Length: 1, 2',
            'Transfer-Encoding: chunked',
            'Transfer-Encoding: gzip, chunked',
            'Host: localhost',
            'Expect: 100-continue',
            'X-Long: ' + 'x'.repeat(20000),
            'NoColon',
            ' leading-space: x',
            'Content-Type: application/json',
          ),
          fc.string({ maxLength: 30 }),
        ),
        { maxLength: 5 },
      ),
      fc.oneof(
        fc.constantFrom('', '{}', 'zz\r\n', '0\r\n\r\n', '5\r\n{"a"\r\n0\r\n\r\n'),
        fc.string({ maxLength: 40 }),
      ),
      fc.constantFrom('\r\n', '\n', '\r'),
    )
    .map(([method, path, version, headers, body, eol]) =>
      Buffer.from(`${method} ${path} ${version}${eol}${headers.map((h) => h + eol).join('')}${eol}${body}`, 'latin1'),
    ),
);

export function sendRaw(socketPath: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 15 s after ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`));
    }, 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on('connect', () => socket.end(bytes));
  });
}

/**
 * Splits raw HTTP answers (possibly several, keep-alive) into status and body; checks each.
 * `method` is the request's: an answer to HEAD has headers only (RFC 9110 section 9.3.2).
 */
export function checkRawAnswer(raw: Buffer, method = 'GET'): number {
  let text = raw.toString('latin1');
  let answers = 0;
  while (text.length > 0) {
    const headEnd = text.indexOf('\r\n\r\n');
    if (!text.startsWith('HTTP/1.1 ') || headEnd === -1)
      throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
    const head = text.slice(0, headEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
    if (!length && !chunked && status >= 400 && method !== 'HEAD')
      throw new Error(`error answer without a body: ${JSON.stringify(head)}`);
    if (chunked) throw new Error(`unexpected chunked answer: ${JSON.stringify(head)}`);
    // An answer to HEAD has no body, unless the request could not be parsed as HEAD at all.
    const rest = text.slice(headEnd + 4);
    const headOnly = method === 'HEAD' && (rest === '' || rest.startsWith('HTTP/1.1 '));
    const bodyLength = length && !headOnly && status >= 200 ? Number(length[1]) : 0;
    const body = text.slice(headEnd + 4, headEnd + 4 + bodyLength);
    checkReply(
      { status, contentType: /\r\ncontent-type: *([^\r]*)/i.exec(head)?.[1] ?? '', body },
      headOnly ? 'HEAD' : 'GET',
    );
    text = text.slice(headEnd + 4 + bodyLength);
    answers++;
  }
  return answers;
}

/** The property of one answer. */
export function checkReply(reply: AdminReply, method: string): void {
  if (!(reply.status >= 100 && reply.status <= 599)) throw new Error(`status ${reply.status}`);
  if (reply.body.includes(SECRET_MARKER) || reply.body.includes('PRIVATE KEY'))
    throw new Error(`an answer carries key material: ${reply.body.slice(0, 300)}`);
  if (reply.status < 400 || method === 'HEAD') return;
  if (!reply.contentType.startsWith('application/json'))
    throw new Error(
      `error ${reply.status} is not JSON but ${JSON.stringify(reply.contentType)}: ${reply.body.slice(0, 200)}`,
    );
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    throw new Error(`error ${reply.status} body is not JSON: ${JSON.stringify(reply.body.slice(0, 200))}`);
  }
  const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || code === '' || typeof message !== 'string' || message === '')
    throw new Error(`error ${reply.status} body lacks {code, message}: ${reply.body.slice(0, 300)}`);
}

export interface AdminFuzzStats {
  requests: number;
  raw: number;
  answered: number;
  applied: number;
  byStatus: Record<string, number>;
}

export function newAdminStats(): AdminFuzzStats {
  return { requests: 0, raw: 0, answered: 0, applied: 0, byStatus: {} };
}

/**
 * After each case: GET /v1/status answers, the configuration is put back if
 * the case changed it, POP3 is served.
 */
export type AfterCase = (applied: boolean) => Promise<void>;

export async function fuzzAdminHttp(
  target: AdminTarget,
  options: { numRuns: number; seed?: number; stats?: AdminFuzzStats; afterCase: AfterCase },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(httpCaseArb(target.port), async (c) => {
      const reply = await send(target.socket, c, target.port);
      if (options.stats) options.stats.requests++;
      if (reply !== undefined) {
        checkReply(reply, c.method);
        if (options.stats) {
          options.stats.answered++;
          options.stats.byStatus[reply.status] = (options.stats.byStatus[reply.status] ?? 0) + 1;
        }
      }
      const applied = reply?.status === 200 && c.method === 'PUT' && /"applied": true/.test(reply.body);
      if (applied && options.stats) options.stats.applied++;
      await options.afterCase(applied);
    }),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
}

export async function fuzzAdminRaw(
  target: AdminTarget,
  options: { numRuns: number; seed?: number; stats?: AdminFuzzStats; afterCase: AfterCase },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(rawRequestArb, async (bytes) => {
      // A raw PUT could carry a valid config: keep it from applying.
      const safe = Buffer.from(bytes.toString('latin1').replace(/^(\s*)PUT/i, '$1GET'), 'latin1');
      const answer = await sendRaw(target.socket, safe);
      const answers = checkRawAnswer(answer, /^[^ ]*/.exec(safe.toString('latin1'))![0]);
      if (options.stats) {
        options.stats.raw++;
        if (answers > 0) options.stats.answered++;
      }
      await options.afterCase(false);
    }),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
}
