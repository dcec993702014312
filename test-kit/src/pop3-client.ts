/**
 * The one POP3 client of the tests, fuzz and soak: a real socket (plain,
 * implicit TLS, or upgraded with STLS), optionally from a chosen source
 * address, reading exact lines and multi-line replies. Nothing is
 * interpreted beyond framing (pop3-reply.ts), so a test sees what the
 * server sent. Lines are latin1 strings without their CRLF.
 *
 * `line()` and `command()` answer undefined when the server closed first (a
 * refusal is something tests assert); `readLine()` treats a close as a failure.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { firstLine, isOk, MULTILINE_END } from './pop3-reply';

/** How long a read waits before the test fails, in milliseconds. */
const READ_TIMEOUT_MS = 10_000;

export interface ClientOptions {
  host?: string;
  port: number;
  /** Connect from this address (tests of access rules and per-IP caps). */
  localAddress?: string;
  /** Implicit TLS (POP3S); the server's certificate is not verified. */
  tls?: boolean;
  /** How long each read waits; default 10 s. */
  timeoutMs?: number;
}

export class Pop3Client {
  socket: net.Socket;
  /** Received, not yet read: store[start, end). Grows by doubling, so big bodies cost linear time. */
  private store: Buffer = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly onData = (chunk: Buffer): void => {
    if (this.end + chunk.length > this.store.length) {
      const live = this.end - this.start;
      const size = Math.max(this.store.length, 2 ** Math.ceil(Math.log2(live + chunk.length)));
      const next = size === this.store.length ? this.store : Buffer.alloc(size);
      this.store.copy(next, 0, this.start, this.end);
      this.store = next;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
    this.waiter?.();
  };

  private readonly onClose = (): void => {
    this.ended = true;
    this.waiter?.();
    this.resolveClosed();
  };

  private constructor(
    socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.once('close', this.onClose);
  }

  /** Connects (and completes the TLS handshake for implicit TLS); the greeting is left to read. */
  static open(options: ClientOptions): Promise<Pop3Client> {
    const host = options.host ?? '127.0.0.1';
    const { port, localAddress } = options;
    return new Promise((resolve, reject) => {
      const done = () => resolve(new Pop3Client(socket, options.timeoutMs ?? READ_TIMEOUT_MS));
      const plain = net.connect({ host, port, localAddress }, options.tls ? undefined : done);
      plain.once('error', reject);
      const socket: net.Socket = options.tls
        ? tls.connect({ socket: plain, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false }, done)
        : plain;
      socket.once('error', reject);
    });
  }

  /** Connects and reads the greeting (which must come). */
  static async connect(
    port: number,
    opts: { host?: string; tls?: boolean } = {},
  ): Promise<{ client: Pop3Client; greeting: string }> {
    const client = await Pop3Client.open({ port, ...opts });
    const greeting = await client.readLine();
    return { client, greeting };
  }

  private get buffer(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  /** Drops the first `n` unread octets. */
  private consume(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** Whether the server closed the connection. */
  get isClosed(): boolean {
    return this.ended;
  }

  private async waitForData(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new Error(`no data within ${timeoutMs} ms; buffered: ${JSON.stringify(this.buffer.toString('latin1'))}`),
        );
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** The next line without its CRLF, or undefined when the server closed first. */
  async line(timeoutMs = this.timeoutMs): Promise<string | undefined> {
    for (;;) {
      const found = firstLine(this.buffer);
      if (found !== undefined) {
        this.consume(found.length);
        return found.line;
      }
      if (this.ended) return undefined;
      await this.waitForData(timeoutMs);
    }
  }

  /** The next line without its CRLF; rejects if the connection closes first. */
  async readLine(timeoutMs = this.timeoutMs): Promise<string> {
    const line = await this.line(timeoutMs);
    if (line === undefined)
      throw new Error(`connection closed; buffered: ${JSON.stringify(this.buffer.toString('latin1'))}`);
    return line;
  }

  /** Lines of a multi-line body up to (not including) the "." line, still dot-stuffed. */
  async readMultiline(timeoutMs = this.timeoutMs): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      if (line === undefined) throw new Error('connection closed inside a multi-line reply');
      if (line === '.') return lines;
      lines.push(line);
    }
  }

  /**
   * The raw octets of a multi-line body up to and including its terminating
   * ".\r\n" (still dot-stuffed), as a latin1 string.
   */
  async readRawBody(timeoutMs = this.timeoutMs): Promise<string> {
    const emptyBody = MULTILINE_END.subarray(2);
    let from = 0;
    for (;;) {
      let end = -1;
      if (this.buffer.subarray(0, emptyBody.length).equals(emptyBody)) end = emptyBody.length;
      else {
        const i = this.buffer.indexOf(MULTILINE_END, from);
        if (i !== -1) end = i + MULTILINE_END.length;
        else from = Math.max(0, this.buffer.length - (MULTILINE_END.length - 1));
      }
      if (end !== -1) {
        const body = this.buffer.subarray(0, end).toString('latin1');
        this.consume(end);
        return body;
      }
      if (this.ended) throw new Error('connection closed');
      await this.waitForData(timeoutMs);
    }
  }

  /** Sends one command line (CRLF added). */
  send(line: string): void {
    this.socket.write(Buffer.from(line + '\r\n', 'latin1'));
  }

  /** Sends bytes as they are. */
  writeRaw(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a command and returns its first reply line, or undefined when the server closed instead. */
  async command(line: string): Promise<string | undefined> {
    this.send(line);
    return this.line();
  }

  /** Sends a command; the status line (undefined: closed) and, when it is +OK, the multi-line body (still dot-stuffed). */
  async multi(line: string): Promise<{ status: string | undefined; lines: string[] }> {
    const status = await this.command(line);
    return { status, lines: status !== undefined && isOk(status) ? await this.readMultiline() : [] };
  }

  /** USER/PASS login; returns the PASS reply (or the USER reply when that is not +OK). */
  async login(user: string, password: string): Promise<string | undefined> {
    const u = await this.command(`USER ${user}`);
    if (u === undefined || !isOk(u)) return u;
    return this.command(`PASS ${password}`);
  }

  /** Starts TLS on this connection (after the server's +OK to STLS). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    this.start = this.end = 0;
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    secure.on('data', this.onData);
    secure.on('error', () => undefined);
    secure.once('close', this.onClose);
    this.socket = secure;
  }

  /** Resolves (true) when the server has closed the connection; fails after timeoutMs. */
  async waitClosed(timeoutMs = this.timeoutMs): Promise<true> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Connects and returns the greeting, or undefined when the server closed without one. */
export async function greeting(options: ClientOptions): Promise<string | undefined> {
  const client = await Pop3Client.open(options);
  try {
    return await client.line();
  } finally {
    client.close();
  }
}

/** Connects and logs in with USER/PASS, each answered +OK, and returns the open conversation. */
export async function login(options: ClientOptions, user: string, password: string): Promise<Pop3Client> {
  const client = await Pop3Client.open(options);
  const hello = await client.line();
  if (hello === undefined || !isOk(hello)) throw new Error(`greeting: ${hello}`);
  const reply = await client.login(user, password);
  if (reply === undefined || !isOk(reply)) throw new Error(`login: ${reply}`);
  return client;
}
