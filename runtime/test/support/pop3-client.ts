/**
 * A minimal line-based POP3 client for tests, over a real socket. Lines are
 * returned as latin1 strings without their CRLF, so one character is one
 * octet and octet counts can be asserted exactly.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

/** How long a read waits before the test fails, in milliseconds. */
const READ_TIMEOUT_MS = 10_000;

export class Pop3TestClient {
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

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.once('close', this.onClose);
  }

  /** Connects and reads the greeting. */
  static async connect(
    port: number,
    opts: { host?: string; tls?: boolean } = {},
  ): Promise<{ client: Pop3TestClient; greeting: string }> {
    const host = opts.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ host, port, rejectUnauthorized: false }, () => resolve(s))
        : net.connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new Pop3TestClient(socket);
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
    if (this.ended) throw new Error('connection closed');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`timed out waiting for data; buffered: ${JSON.stringify(this.buffer.toString('latin1'))}`));
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** The next line, without CRLF. Rejects if the connection closes first. */
  async readLine(timeoutMs = READ_TIMEOUT_MS): Promise<string> {
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i !== -1) {
        const line = this.buffer.subarray(0, i).toString('latin1');
        this.consume(i + 2);
        return line;
      }
      if (this.ended) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await this.waitForData(timeoutMs);
    }
  }

  /** Lines of a multi-line body up to (not including) the "." line, still dot-stuffed. */
  async readMultiline(timeoutMs = READ_TIMEOUT_MS): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === '.') return lines;
      lines.push(line);
    }
  }

  /**
   * The raw octets of a multi-line body up to and including its terminating
   * ".\r\n" (still dot-stuffed), as a latin1 string.
   */
  async readRawBody(timeoutMs = READ_TIMEOUT_MS): Promise<string> {
    let from = 0;
    for (;;) {
      let end = -1;
      if (this.buffer.subarray(0, 3).equals(Buffer.from('.\r\n'))) end = 3;
      else {
        const i = this.buffer.indexOf('\r\n.\r\n', from);
        if (i !== -1) end = i + 5;
        else from = Math.max(0, this.buffer.length - 4);
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

  /** Sends a command and returns its first reply line. */
  async command(line: string): Promise<string> {
    this.send(line);
    return this.readLine();
  }

  /** Sends a command; returns the status line and, when it is +OK, the multi-line body. */
  async multi(line: string): Promise<{ status: string; lines: string[] }> {
    const status = await this.command(line);
    return { status, lines: status.startsWith('+OK') ? await this.readMultiline() : [] };
  }

  /** USER/PASS login; returns the PASS reply. */
  async login(user: string, password: string): Promise<string> {
    const u = await this.command(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
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

  /** Resolves when the server closes the connection (fails after timeoutMs). */
  async waitClosed(timeoutMs = READ_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}
