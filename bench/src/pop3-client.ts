/**
 * The load generator's POP3 client: as little work per reply as possible so
 * that the client is not what is measured. One command at a time (no
 * pipelining, as a plain client does). It keeps no lines, only counts, so it
 * is not the test kit's Pop3Client, but it frames replies with the kit's
 * pop3-reply.ts: a single-line reply ends at the first CRLF, a multi-line
 * reply when the octets received end with CRLF.CRLF (one comparison per
 * chunk, not a scan).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { firstLine, isOk, MultilineEndWatch } from '@pop3-iac/test-kit';

export interface Target {
  host: string;
  port: number;
  tls: boolean;
}

export interface Reply {
  ok: boolean;
  /** The status line, without CRLF. */
  line: string;
  /** Octets of the whole reply, status line and terminator included. */
  octets: number;
  /** The body lines of a multi-line reply, when asked to keep them. */
  body?: Buffer;
}

export class Pop3Error extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'Pop3Error';
  }
}

export class Pop3Connection {
  private head: Buffer[] = [];
  private headLength = 0;
  /** Expecting a multi-line reply (after a +OK status line). */
  private multi = false;
  private keep = false;
  private kept: Buffer[] = [];
  private statusLine: string | undefined;
  private octets = 0;
  private readonly end = new MultilineEndWatch();
  private resolve: ((reply: Reply) => void) | undefined;
  private reject: ((error: Error) => void) | undefined;
  private failure: Error | undefined;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) =>
      this.fail(new Pop3Error(error.message, (error as NodeJS.ErrnoException).code ?? 'ESOCKET')),
    );
    socket.on('close', () => {
      this.closed = true;
      this.fail(new Pop3Error('connection closed by the server', 'CLOSED'));
    });
  }

  /** Connects, waits for the greeting (and the TLS handshake first for POP3S). */
  static async open(target: Target): Promise<Pop3Connection> {
    const socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false })
      : net.connect({ host: target.host, port: target.port, noDelay: true });
    const conn = new Pop3Connection(socket);
    const greeting = await conn.reply(false);
    if (!greeting.ok) {
      socket.destroy();
      throw new Pop3Error(`greeting: ${greeting.line}`, 'GREETING');
    }
    return conn;
  }

  /** Sends one command and waits for its reply; `multi` when a +OK is followed by lines up to ".". */
  command(line: string, multi = false, keep = false): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const reply = this.reply(multi, keep);
    this.socket.write(line + '\r\n');
    return reply;
  }

  /** `command`, but a -ERR throws a Pop3Error `VERB: <reply>` with `code` (the verb unless given). */
  async expectOk(line: string, multi = false, code?: string): Promise<Reply> {
    const reply = await this.command(line, multi);
    const verb = line.split(' ', 1)[0]!;
    if (!reply.ok) throw new Pop3Error(`${verb}: ${reply.line}`, code ?? verb);
    return reply;
  }

  /** USER/PASS; throws on -ERR. */
  async login(user: string, password: string): Promise<void> {
    await this.expectOk(`USER ${user}`, false, 'AUTH');
    await this.expectOk(`PASS ${password}`, false, 'AUTH');
  }

  /** QUIT, then waits for the server to close (both servers close after the reply). */
  async quit(): Promise<void> {
    await this.expectOk('QUIT');
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private reply(multi: boolean, keep = false): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.head = [];
      this.headLength = 0;
      this.multi = multi;
      this.keep = keep;
      this.kept = [];
      this.statusLine = undefined;
      this.octets = 0;
      this.end.reset();
      this.resolve = resolve;
      this.reject = reject;
      if (this.failure) this.fail(this.failure);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const reject = this.reject;
    this.resolve = this.reject = undefined;
    reject?.(error);
  }

  private done(reply: Reply): void {
    const resolve = this.resolve;
    this.resolve = this.reject = undefined;
    resolve?.(reply);
  }

  private onData(chunk: Buffer): void {
    if (this.resolve === undefined) return; // nothing asked: unsolicited bytes (the close after QUIT) are ignored
    this.octets += chunk.length;
    let complete: boolean;
    if (this.statusLine === undefined) {
      // Still in the status line: it is short, gather it.
      this.head.push(chunk);
      this.headLength += chunk.length;
      const all = this.head.length === 1 ? chunk : Buffer.concat(this.head, this.headLength);
      const status = firstLine(all);
      if (status === undefined) {
        if (this.head.length > 1) this.head = [all];
        return;
      }
      this.statusLine = status.line;
      const ok = isOk(this.statusLine);
      if (!this.multi || !ok) {
        this.done({ ok, line: this.statusLine, octets: this.octets });
        return;
      }
      // The rest of this chunk is the start of the body: the ".\r\n" alone may follow the status line,
      // and the status line's CRLF counts toward the terminator ("+OK\r\n.\r\n" is a complete empty list).
      const rest = all.subarray(status.length - 2);
      if (this.keep) this.kept.push(all.subarray(status.length));
      complete = this.end.push(rest);
    } else {
      if (this.keep) this.kept.push(chunk);
      complete = this.end.push(chunk);
    }
    if (complete) {
      const body = this.keep ? Buffer.concat(this.kept) : undefined;
      this.done({ ok: true, line: this.statusLine, octets: this.octets, body });
    }
  }
}
