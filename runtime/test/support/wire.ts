/**
 * A bare POP3 conversation over a real socket for the server-level tests:
 * connect (optionally from a chosen source address), read exact lines, send
 * commands, read multi-line replies. Nothing is interpreted beyond framing.
 */
import { connect, type Socket } from 'node:net';

export interface WireOptions {
  host: string;
  port: number;
  localAddress?: string;
  timeoutMs?: number;
}

export class Wire {
  private buffer = '';
  private closed = false;
  private wake: (() => void) | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static open(options: WireOptions): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port, localAddress: options.localAddress });
      socket.once('connect', () => resolve(new Wire(socket, options.timeoutMs ?? 5000)));
      socket.once('error', reject);
    });
  }

  /** The next CRLF-terminated line without its CRLF, or undefined when the server closed first. */
  async line(): Promise<string | undefined> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end !== -1) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${this.timeoutMs} ms; buffered: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  async command(text: string): Promise<string | undefined> {
    this.socket.write(`${text}\r\n`);
    return this.line();
  }

  /** Sends a command whose +OK reply is multi-line; returns the status line and the (still dot-stuffed) body lines. */
  async multiline(text: string): Promise<{ status: string | undefined; lines: string[] }> {
    const status = await this.command(text);
    const lines: string[] = [];
    if (!status?.startsWith('+OK')) return { status, lines };
    for (;;) {
      const line = await this.line();
      if (line === undefined) throw new Error('connection closed inside a multi-line reply');
      if (line === '.') return { status, lines };
      lines.push(line);
    }
  }

  /** Resolves when the server has closed the connection. */
  async closedByServer(): Promise<boolean> {
    while (!this.closed) {
      if ((await this.line()) === undefined) break;
    }
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Connects and returns the greeting, or undefined when the server closed without one. */
export async function greeting(options: WireOptions): Promise<string | undefined> {
  const wire = await Wire.open(options);
  try {
    return await wire.line();
  } finally {
    wire.close();
  }
}

/** Logs in with USER/PASS and returns the open conversation. */
export async function login(options: WireOptions, user: string, password: string): Promise<Wire> {
  const wire = await Wire.open(options);
  const hello = await wire.line();
  if (!hello?.startsWith('+OK')) throw new Error(`greeting: ${hello}`);
  const userReply = await wire.command(`USER ${user}`);
  if (!userReply?.startsWith('+OK')) throw new Error(`USER: ${userReply}`);
  const passReply = await wire.command(`PASS ${password}`);
  if (!passReply?.startsWith('+OK')) throw new Error(`PASS: ${passReply}`);
  return wire;
}
