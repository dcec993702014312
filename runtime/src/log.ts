/**
 * Structured logging: one JSON object per line, `{"ts","level","event",...fields}`.
 *
 * Rule: a log line never carries a password, a SASL/AUTH payload or message
 * content. Callers are expected not to pass them; as a second line of defence
 * any field whose name says it holds such a value is replaced by "[redacted]"
 * (see REDACTED_KEYS), at any depth.
 */

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes (its own fields win over the parent's). */
  child(fields: LogFields): Logger;
  /**
   * Writes out what the stream holds back (see BatchedLogStream). Called
   * before the server closes a connection, so that the lines about it are
   * out before the client sees the close.
   */
  flush(): void;
}

/** Anything with a `write(string)`: process.stdout, a file stream, a test's collector. */
export interface LogStream {
  write(line: string): unknown;
  /** Present on streams that hold lines back. */
  flush?(): void;
}

/**
 * Field names (compared lower-cased, without `_` and `-`) whose values are
 * never written: credentials, SASL payloads, message content, key material.
 */
const REDACTED_KEYS: ReadonlySet<string> = new Set([
  'password',
  'pass',
  'passwd',
  'secret',
  'credentials',
  'payload',
  'authpayload',
  'initialresponse',
  'saslresponse',
  'content',
  'body',
  'message',
  'keypem',
  'privatekey',
  'key',
  'token',
]);

/** Depth beyond which nested values are summarised instead of walked. */
const MAX_DEPTH = 4;

/** U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, written escaped. */
const LINE_SEPARATORS = /[\u2028\u2029]/g;

/** Answers of isRedactedKey, by field name: names come from code, so few; bounded all the same. */
const redactedKeyCache = new Map<string, boolean>();
const REDACTED_KEY_CACHE_MAX = 1024;

/** Whether a field of this name is never written (compared lower-cased, without `_` and `-`). */
function isRedactedKey(key: string): boolean {
  let redacted = redactedKeyCache.get(key);
  if (redacted === undefined) {
    redacted = REDACTED_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
    if (redactedKeyCache.size < REDACTED_KEY_CACHE_MAX) redactedKeyCache.set(key, redacted);
  }
  return redacted;
}

function sanitise(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    return value;
  }
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, msg: value.message };
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') out.code = code;
    return out;
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) return value.map((v) => sanitise(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isRedactedKey(k) ? '[redacted]' : sanitise(v, depth + 1);
  }
  return out;
}

/** A line's fields as written: redacted, sanitised, without the reserved ts, level and event. */
function sanitiseFields(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in fields) {
    if (!Object.hasOwn(fields, k) || k === 'ts' || k === 'level' || k === 'event') continue;
    out[k] = isRedactedKey(k) ? '[redacted]' : sanitise(fields[k], 1);
  }
  return out;
}

class JsonLogger implements Logger {
  /**
   * `base` as written: sanitised at the first line, not at every line (a
   * session's logger writes several), nor for a logger that writes none.
   */
  private baseRecord: Readonly<Record<string, unknown>> | undefined;

  constructor(
    private readonly stream: LogStream,
    private readonly base: LogFields,
  ) {}

  info(event: string, fields?: LogFields): void {
    this.write('info', event, fields);
  }

  warn(event: string, fields?: LogFields): void {
    this.write('warn', event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.write('error', event, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.stream, { ...this.base, ...fields });
  }

  flush(): void {
    this.stream.flush?.();
  }

  private write(level: LogLevel, event: string, fields: LogFields | undefined): void {
    this.baseRecord ??= sanitiseFields(this.base);
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level, event, ...this.baseRecord };
    if (fields !== undefined) Object.assign(record, sanitiseFields(fields));
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ ts: record.ts, level, event, logError: 'unserialisable fields' });
    }
    // JSON allows U+2028 and U+2029 raw in strings, but JavaScript (before ES2019) and many
    // line-oriented tools take them as line breaks: one event would read as two lines.
    line = line.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
    try {
      this.stream.write(line + '\n');
    } catch {
      // A broken log stream must not take a session (or the process) down with it.
    }
  }
}

/** A logger writing JSON lines to `stream` (default: standard output). */
export function createLogger(stream: LogStream = process.stdout, fields: LogFields = {}): Logger {
  return new JsonLogger(stream, fields);
}

/** A logger that drops everything (tests, tools). */
export const nullLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
  flush() {},
};
