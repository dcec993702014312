/**
 * One POP3 connection, from greeting to close: RFC 1939 (POP3), RFC 2449
 * (CAPA, PIPELINING, response codes), RFC 2595 (STLS), RFC 5034 with RFC 4616
 * (AUTH PLAIN), RFC 3206 (SYS and AUTH response codes).
 *
 * Every command goes through one table (COMMANDS): the only place where the
 * state a command is valid in and its number of arguments are enforced.
 * Replies go out strictly in command order: commands are executed one at a
 * time; while one is asynchronous (login, a message being streamed, QUIT's
 * deletions, STLS) the socket is paused and later commands wait.
 *
 * A handler that refuses a command raises a Pop3Failure (replies.ts names
 * every reply); Pop3Session.refuse is the one place it becomes its `-ERR`
 * line, synchronously in pump() or from an asynchronous command's rejection.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { isLoopback, type Limits } from '@pop3-iac/schema';
import type { Logger } from '../log';
import {
  type Mailbox,
  type MailStore,
  MailStoreError,
  MessageUnavailableError,
  type MessageSink,
} from '../maildir/index';
import type { LoginThrottle, UserDatabase, VerifyFailure, VerifyResult } from '../users/index';
import type { TlsUpgrade } from '../tls/upgrade';
import type { CommandCounter, DaemonMetrics } from '../observability/metrics';
import { LINE_TOO_LONG, type LineItem, LineReader } from './line-reader';
import { ERR, OK, Pop3Failure, mailStoreReply } from './replies';
import { decodePlainResponse } from './sasl-plain';

export interface SessionSettings {
  /** Offer STLS (RFC 2595) on this plain connection. */
  starttls: boolean;
  /** Allow USER/PASS and AUTH PLAIN unencrypted from a non-loopback peer. */
  allowPlaintextAuth: boolean;
  limits: Limits;
}

export interface SessionEnvironment {
  /** Read afresh whenever the session needs a setting (an apply may change them). */
  settings(): SessionSettings;
  /** For STLS; undefined means STLS is not offered even when `starttls` is on. */
  secureContext(): tls.SecureContext | undefined;
  /** The handshake POP3S connections get too (tls/upgrade.ts): its timeout, its counters. */
  startTls(plain: net.Socket, upgrade: TlsUpgrade): tls.TLSSocket;
  mailstore: MailStore;
  users: UserDatabase;
  loginThrottle: LoginThrottle;
  log: Logger;
  /** Where the session counts what it does (see observability/metrics.ts). */
  metrics: DaemonMetrics;
  /** Named in the greeting. */
  hostname: string;
}

export interface SessionInfo {
  peerAddress: string;
  /** The socket is a TLSSocket whose handshake is done (POP3S, RFC 8314). */
  implicitTls: boolean;
  /** The listener's name, for logs. */
  listener: string;
}

export type SessionState = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE' | 'CLOSED';

/** How long a closing connection may take to flush its last reply before it is destroyed. 10 s. */
const CLOSE_TIMEOUT_MS = 10 * 1000;
/** Longest delay a Node.js timer takes (about 24.8 days); longer idle limits are cut to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Longest host name put in the greeting, in characters. */
const MAX_GREETING_HOST = 200;

/** The greeting of the last host name asked for: the name is the daemon's, the same for every connection. */
let greeting: { hostname: string; line: string } | undefined;

function greetingFor(hostname: string): string {
  if (greeting?.hostname !== hostname) {
    const host = hostname.replace(/[^\x21-\x7e]/g, '').slice(0, MAX_GREETING_HOST) || 'localhost';
    greeting = { hostname, line: OK.greeting(host) };
  }
  return greeting.line;
}
/** Longest user name put in a log line, in characters. */
const MAX_LOGGED_USER = 256;

type Mechanism = 'USER' | 'PLAIN';

/** The states a command can be valid in (UPDATE and CLOSED accept none). */
type CommandState = 'AUTHORIZATION' | 'TRANSACTION';

interface Command {
  states: readonly CommandState[];
  minArgs: number;
  maxArgs: number;
  /**
   * The argument is the rest of the line after one space, taken verbatim:
   * RFC 1939 section 7 (PASS): "Since the PASS command has exactly one
   * argument, a POP3 server may treat spaces in the argument as part of the
   * password, instead of as argument separators." Octets above 0x7F are
   * allowed there (UTF-8 passwords); control characters are not.
   */
  restOfLine?: boolean;
  run(session: Pop3Session, args: readonly string[]): void | Promise<void>;
}

const AUTH_ONLY: readonly CommandState[] = ['AUTHORIZATION'];
const TRANSACTION_ONLY: readonly CommandState[] = ['TRANSACTION'];
const BOTH: readonly CommandState[] = ['AUTHORIZATION', 'TRANSACTION'];

let nextSessionId = 1;

/**
 * Writes a message into the socket for RETR/TOP: the "+OK" line goes out with
 * the first chunk (so a message that cannot be opened still gets a clean
 * -ERR), every chunk counts as activity for the idle timer, and a full socket
 * buffer, or a chunk whose caller waits for its callback, is uncorked so that
 * 'drain' and the callback can come.
 */
class MessageWriter implements MessageSink {
  constructor(
    private readonly session: Pop3Session,
    private readonly socket: net.Socket,
    public prefix: string | null,
  ) {}

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  write(chunk: Buffer, done?: (err?: Error | null) => void): boolean {
    this.session.touch();
    if (this.prefix !== null) {
      this.socket.write(this.prefix);
      this.prefix = null;
    }
    const ok = this.socket.write(chunk, done);
    // Whoever waits (for 'drain', or for `done`) needs the octets to move: a cork would keep them.
    if (!ok || done !== undefined) uncorkAll(this.socket);
    return ok;
  }

  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): this {
    this.socket.once(event, listener);
    return this;
  }

  removeListener(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): this {
    this.socket.removeListener(event, listener);
    return this;
  }
}

function uncorkAll(socket: net.Socket): void {
  while (socket.writableCorked > 0) socket.uncork();
}

/** Message numbers and TOP line counts: decimal digits only. */
const NUMBER_RE = /^[0-9]{1,10}$/;

export class Pop3Session extends EventEmitter {
  private static readonly COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
    ['CAPA', { states: BOTH, minArgs: 0, maxArgs: 0, run: (s) => s.cmdCapa() }],
    ['QUIT', { states: BOTH, minArgs: 0, maxArgs: 0, run: (s) => s.cmdQuit() }],
    ['USER', { states: AUTH_ONLY, minArgs: 1, maxArgs: 1, run: (s, a) => s.cmdUser(a[0]!) }],
    ['PASS', { states: AUTH_ONLY, minArgs: 1, maxArgs: 1, restOfLine: true, run: (s, a) => s.cmdPass(a[0]!) }],
    ['AUTH', { states: AUTH_ONLY, minArgs: 0, maxArgs: 2, run: (s, a) => s.cmdAuth(a) }],
    ['STLS', { states: AUTH_ONLY, minArgs: 0, maxArgs: 0, run: (s) => s.cmdStls() }],
    ['STAT', { states: TRANSACTION_ONLY, minArgs: 0, maxArgs: 0, run: (s) => s.cmdStat() }],
    ['LIST', { states: TRANSACTION_ONLY, minArgs: 0, maxArgs: 1, run: (s, a) => s.cmdList(a[0]) }],
    ['RETR', { states: TRANSACTION_ONLY, minArgs: 1, maxArgs: 1, run: (s, a) => s.cmdRetr(a[0]!) }],
    ['DELE', { states: TRANSACTION_ONLY, minArgs: 1, maxArgs: 1, run: (s, a) => s.cmdDele(a[0]!) }],
    ['NOOP', { states: TRANSACTION_ONLY, minArgs: 0, maxArgs: 0, run: (s) => s.cmdNoop() }],
    ['RSET', { states: TRANSACTION_ONLY, minArgs: 0, maxArgs: 0, run: (s) => s.cmdRset() }],
    ['TOP', { states: TRANSACTION_ONLY, minArgs: 2, maxArgs: 2, run: (s, a) => s.cmdTop(a[0]!, a[1]!) }],
    ['UIDL', { states: TRANSACTION_ONLY, minArgs: 0, maxArgs: 1, run: (s, a) => s.cmdUidl(a[0]) }],
    // APOP (RFC 1939 section 7) is not offered: "A POP3 server which implements
    // the APOP command will include a timestamp in its banner greeting." Ours
    // has none; APOP needs the plaintext password stored, which we refuse to require.
  ]);

  readonly peerAddress: string;
  private _state: SessionState = 'AUTHORIZATION';
  private _user: string | undefined;
  private socket: net.Socket;
  private readonly env: SessionEnvironment;
  private log: Logger;
  private readonly reader = new LineReader();
  private readonly replies: CommandCounter;
  private readonly loopback: boolean;
  private secure: boolean;

  /** The name given by USER, waiting for PASS. */
  private pendingUser: string | undefined;
  /** An AUTH PLAIN exchange waits for the client's response line. */
  private saslPending = false;
  /** STLS answered, TLS handshake not done: every byte received is dropped. */
  private tlsStarting = false;
  /** A multi-line message response is being written. */
  private streaming = false;
  /** QUIT's deletions are running. */
  private expunging = false;

  private mailbox: Mailbox | undefined;
  /** 1 for a message marked deleted; allocated at the first DELE. */
  private deleted: Uint8Array | undefined;
  private deletedCount = 0;
  /** Messages retrieved by RETR (for Mailbox.markSeen at QUIT, as Dovecot's POP3 sets \Seen). */
  private retrieved = new Set<number>();
  private deletedOctets = 0;
  private badCommands = 0;

  /** A command is executing asynchronously; input waits. */
  private busy = false;
  private paused = false;
  /** The last reply is written; nothing more is read or executed. */
  private closing = false;
  /** The client half-closed: close once what it sent is answered. */
  private peerEnded = false;

  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private closeTimer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket, env: SessionEnvironment, info: SessionInfo) {
    super();
    this.socket = socket;
    this.env = env;
    this.peerAddress = info.peerAddress;
    this.loopback = isLoopback(info.peerAddress);
    this.secure = info.implicitTls;
    this.replies = env.metrics.commandCounter();
    this.log = env.log.child({
      session: (nextSessionId++).toString(36),
      peer: info.peerAddress,
      listener: info.listener,
    });
    this.attach(socket);
  }

  get user(): string | undefined {
    return this._user;
  }

  get state(): SessionState {
    return this._state;
  }

  /** Sends the greeting and arms the timer. */
  start(): void {
    if (this._state === 'CLOSED') return;
    try {
      this.socket.setNoDelay(true); // replies are batched by hand (cork), so Nagle only adds latency
    } catch {
      // not a TCP socket (tests may use pipes)
    }
    // No 'session.connect' line: a session logs 'login.succeeded', 'session.quit' and 'session.disconnect'
    // (the connection's end, when its slot is free again), three synchronous log writes per session instead
    // of five.
    // RFC 1939 section 4: "Once the TCP connection has been opened by a POP3
    // client, the POP3 server issues a one line greeting." No APOP timestamp:
    // APOP is not offered.
    this.send(greetingFor(this.env.hostname));
    this.touch();
    this.pump();
  }

  /**
   * Server shutdown, or the peer newly denied: `-ERR [SYS/TEMP] <reason>`,
   * then close. Never enters UPDATE, so nothing is deleted. A QUIT already in
   * UPDATE finishes its deletions and answers. If a message is being streamed
   * (or TLS is being negotiated) there is no clean place for the -ERR line and
   * the connection is simply closed.
   */
  terminate(reason: string): void {
    if (this._state === 'CLOSED' || this.closing) return;
    this.log.info('session.terminated', { reason });
    if (this.expunging) return;
    if (this.streaming || this.tlsStarting) {
      this.destroy();
      return;
    }
    this.finish(ERR.terminated(reason).line);
  }

  // ---------------------------------------------------------------------------
  // Socket plumbing

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    // RFC 2595 section 4 and the STARTTLS injection attack (CVE-2011-0411): what
    // the client sent after STLS and before the handshake is never executed.
    if (this.tlsStarting || this.closing || this._state === 'CLOSED') return;
    this.reader.push(chunk);
    if (this.busy) {
      this.pauseInput();
      return;
    }
    this.pump();
  };

  private readonly onError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || code === 'EPIPE') this.log.info('session.connection_reset', { code });
    else this.log.warn(this.socket instanceof tls.TLSSocket ? 'tls.error' : 'session.socket_error', { error: err });
    this.destroy();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    // Half-closed in the middle of a TLS handshake: it can never complete.
    if (this.tlsStarting) {
      this.destroy();
      return;
    }
    if (!this.busy && !this.reader.hasData) this.finishQuietly();
  };

  private readonly onClose = (): void => {
    if (this._state === 'CLOSED') return;
    const state = this._state;
    this._state = 'CLOSED';
    clearTimeout(this.timer);
    clearTimeout(this.closeTimer);
    this.cancelSleep();
    this.reader.clear();
    // QUIT's deletions release the mailbox when they are done; every other path releases it here.
    if (this.mailbox !== undefined && !this.expunging) {
      this.mailbox.release();
      this.mailbox = undefined;
    }
    this.log.info('session.disconnect', { state, user: this._user, tls: this.secure });
    this.emit('close');
  };

  private readonly onTimeout = (): void => {
    if (this._state === 'CLOSED' || this.closing) return;
    if (this.expunging) {
      this.touch();
      return;
    }
    this.log.info('session.timeout', { state: this._state, user: this._user });
    if (this.streaming || this.tlsStarting) {
      this.destroy();
      return;
    }
    // RFC 1939 section 3: "When the timer expires, the session does NOT enter
    // the UPDATE state--the server should close the TCP connection without
    // removing any messages or sending any response to the client." We do send
    // one line first, as Dovecot does, so that a person at a client sees why.
    this.finish(ERR.idle.line);
  };

  private pauseInput(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resumeInput(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Restarts the idle timer: authTimeoutSeconds before login, idleTimeoutSeconds after. */
  touch(): void {
    if (this._state === 'CLOSED') return;
    const limits = this.env.settings().limits;
    const seconds = this._state === 'AUTHORIZATION' ? limits.authTimeoutSeconds : limits.idleTimeoutSeconds;
    const ms = Math.min(MAX_TIMER_MS, Math.max(1, seconds * 1000));
    if (this.timer !== undefined && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(this.onTimeout, ms);
    this.timer.unref();
  }

  private send(line: string): void {
    if (this.closing || this._state === 'CLOSED' || this.socket.writableEnded) return;
    this.replies.reply(line);
    this.socket.write(line + '\r\n');
  }

  /** Writes a last reply and closes: nothing after it is read or executed. */
  private finish(line: string): void {
    if (this.closing || this._state === 'CLOSED') return;
    this.send(line);
    this.finishQuietly();
  }

  private finishQuietly(): void {
    if (this.closing || this._state === 'CLOSED') return;
    this.closing = true;
    this.reader.clear();
    // Before the last reply leaves (the socket is corked): whoever reads the
    // log after seeing the server close finds the lines about it.
    this.log.flush();
    uncorkAll(this.socket);
    this.socket.end();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  private destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** Waits `ms` milliseconds, or less if the connection closes first. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  private cancelSleep(): void {
    clearTimeout(this.sleepTimer);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private get gone(): boolean {
    return this.closing || this._state === 'CLOSED';
  }

  // ---------------------------------------------------------------------------
  // Command loop

  /**
   * Executes queued lines one by one. Synchronous replies are corked and go
   * out together; an asynchronous command pauses input until it is done.
   *
   * RFC 2449 section 6.6 (PIPELINING): the client may send several commands
   * without waiting; the server must answer each in turn, in order.
   */
  private pump(): void {
    if (this.busy || this.gone) return;
    const socket = this.socket;
    const maxLine = this.env.settings().limits.maxLineLength;
    socket.cork();
    let pending: Promise<void> | undefined;
    try {
      while (!this.gone) {
        if (socket.writableNeedDrain) {
          // The client is not reading its replies: stop reading its commands.
          pending = this.waitForDrain(socket);
          break;
        }
        const item = this.reader.next(maxLine);
        if (item === null) break;
        let result: void | Promise<void>;
        try {
          result = this.execute(item);
        } catch (err) {
          if (!(err instanceof Pop3Failure)) throw err;
          this.refuse(err);
          continue;
        }
        if (result !== undefined) {
          pending = result;
          break;
        }
      }
    } catch (err) {
      this.internalError(err);
    }
    if (pending !== undefined && !this.gone) {
      this.busy = true;
      // (Not during a TLS handshake: the new TLS socket must read to negotiate;
      // until it is done, whatever arrives is dropped by onData.)
      if (!this.tlsStarting) this.pauseInput();
      // A streamed message keeps the cork so that "+OK" and its first chunk go out together.
      if (!this.streaming) uncorkAll(socket);
      pending.then(this.afterAsync, this.onAsyncError);
      return;
    }
    uncorkAll(socket);
    if (this.gone) return;
    if (this.peerEnded && !this.reader.hasData) {
      this.finishQuietly();
      return;
    }
    this.resumeInput();
  }

  private readonly afterAsync = (): void => {
    this.busy = false;
    if (this._state === 'CLOSED') return;
    uncorkAll(this.socket);
    this.pump();
  };

  private readonly onAsyncError = (err: unknown): void => {
    if (err instanceof Pop3Failure) {
      this.refuse(err);
      this.afterAsync();
      return;
    }
    this.busy = false;
    this.internalError(err);
  };

  private internalError(err: unknown): void {
    this.log.error('session.internal_error', { error: err, state: this._state });
    if (this.streaming) {
      this.destroy();
      return;
    }
    this.finish(ERR.internal.line);
  }

  private waitForDrain(socket: net.Socket): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        socket.removeListener('drain', done);
        socket.removeListener('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
      uncorkAll(socket);
    });
  }

  /** Runs one line: a SASL response, or a command through the table. */
  private execute(item: LineItem): void | Promise<void> {
    // RFC 1939 section 3: "The receipt of any command from the client during
    // that interval should suffice to reset the autologout timer."
    this.touch();
    if (item === LINE_TOO_LONG) {
      this.saslPending = false;
      throw new Pop3Failure(ERR.lineTooLong);
    }
    if (this.saslPending) {
      this.saslPending = false;
      return this.saslResponse(item);
    }

    // RFC 1939 section 3: "Commands in the POP3 consist of a case-insensitive
    // keyword, possibly followed by one or more arguments. [...] Keywords and
    // arguments consist of printable ASCII characters. Keywords and arguments
    // are each separated by a single SPACE character."
    const space = item.indexOf(0x20);
    const verbBytes = space === -1 ? item : item.subarray(0, space);
    if (!isPrintableAscii(verbBytes, 0x21)) throw new Pop3Failure(ERR.invalidCharacters);
    const verb = verbBytes.toString('latin1').toUpperCase();
    const command = Pop3Session.COMMANDS.get(verb);
    this.replies.command(command === undefined ? 'other' : verb);
    if (command === undefined) throw new Pop3Failure(ERR.unknownCommand);
    const stateKey = this._state === 'AUTHORIZATION' || this._state === 'TRANSACTION' ? this._state : undefined;
    if (stateKey === undefined || !command.states.includes(stateKey)) throw new Pop3Failure(ERR.notValidInState);

    let args: string[];
    const rest = space === -1 ? undefined : item.subarray(space + 1);
    if (rest === undefined) {
      args = [];
    } else if (command.restOfLine === true) {
      if (!isTextWith8Bit(rest)) throw new Pop3Failure(ERR.invalidCharacters);
      // latin1 keeps every octet as one character: PASS turns it back into the bytes sent (cmdPass).
      args = rest.length === 0 ? [] : [rest.toString('latin1')];
    } else {
      if (!isPrintableAscii(rest, 0x20)) throw new Pop3Failure(ERR.invalidCharacters);
      // Lenient about repeated spaces, which some clients send.
      args = rest
        .toString('latin1')
        .split(' ')
        .filter((a) => a !== '');
    }
    if (args.length < command.minArgs || args.length > command.maxArgs) throw new Pop3Failure(ERR.wrongArguments(verb));
    // RFC 1939 section 7 (PASS): "may only be given in the AUTHORIZATION state
    // immediately after a successful USER command".
    if (verb !== 'PASS') this.pendingUser = undefined;
    return command.run(this, args);
  }

  /**
   * Answers a command a handler refused: the one place a Pop3Failure becomes
   * its `-ERR` line. A protocol error (an unknown, misplaced or malformed
   * command) is counted, and past maxBadCommands the session ends.
   */
  private refuse(failure: Pop3Failure): void {
    const reply = failure.reply;
    if (reply.bad) {
      this.badCommands++;
      if (this.badCommands > this.env.settings().limits.maxBadCommands) {
        this.log.warn('session.too_many_bad_commands', { count: this.badCommands });
        this.finish(ERR.tooManyBadCommands.line);
        return;
      }
    }
    this.send(reply.line);
  }

  // ---------------------------------------------------------------------------
  // Policy

  /** Plaintext credentials may be sent on this connection: TLS, loopback, or the operator allows it. */
  private plaintextAllowed(): boolean {
    return this.secure || this.loopback || this.env.settings().allowPlaintextAuth;
  }

  /** RFC 2595 section 4: STLS is "Only permitted in AUTHORIZATION state", and once. */
  private stlsOffered(): boolean {
    return (
      this._state === 'AUTHORIZATION' &&
      !this.secure &&
      !this.tlsStarting &&
      this.env.settings().starttls &&
      this.env.secureContext() !== undefined
    );
  }

  // ---------------------------------------------------------------------------
  // AUTHORIZATION state

  private cmdCapa(): void {
    // RFC 2449 section 5: "Capabilities available in the AUTHORIZATION state
    // MUST be announced in both states."
    // Honest capabilities: USER and SASL PLAIN are not announced where
    // plaintext login would be refused (as Dovecot does with
    // disable_plaintext_auth): a client then knows to use STLS or port 995
    // instead of sending a password in the clear to be told no.
    this.send(OK.capabilities({ plaintext: this.plaintextAllowed(), stls: this.stlsOffered() }));
  }

  private cmdUser(name: string): void {
    if (!this.plaintextAllowed()) {
      this.log.info('login.refused', { mechanism: 'USER', reason: 'plaintext' });
      throw new Pop3Failure(ERR.plaintextRefused);
    }
    this.pendingUser = name;
    // The same answer for every name: whether a user exists is not told.
    this.send(OK.plain);
  }

  private cmdPass(password: string): void | Promise<void> {
    const user = this.pendingUser;
    this.pendingUser = undefined;
    if (user === undefined) throw new Pop3Failure(ERR.noUser);
    if (!this.plaintextAllowed()) throw new Pop3Failure(ERR.plaintextRefused);
    // The password as the bytes the client sent: no UTF-8 decoding that would map different bytes to one U+FFFD.
    return this.login(user, Buffer.from(password, 'latin1'), 'USER');
  }

  private cmdAuth(args: readonly string[]): void | Promise<void> {
    if (args.length === 0) {
      // Not in RFC 5034, but Outlook and others send a bare AUTH (the RFC 1734
      // draft form) to list mechanisms; Dovecot answers it, so do we, listing
      // what this connection allows.
      this.send(OK.mechanisms(this.plaintextAllowed()));
      return;
    }
    const mechanism = args[0]!.toUpperCase();
    if (mechanism !== 'PLAIN') throw new Pop3Failure(ERR.unsupportedMechanism);
    if (!this.plaintextAllowed()) {
      this.log.info('login.refused', { mechanism: 'PLAIN', reason: 'plaintext' });
      throw new Pop3Failure(ERR.plaintextRefused);
    }
    if (args.length === 1) {
      // RFC 5034 section 4: "A server challenge is sent as a line consisting of
      // a "+" character followed by a single space and a string encoded using
      // Base64" (PLAIN's first challenge is empty).
      this.saslPending = true;
      this.send(OK.saslChallenge);
      return;
    }
    return this.saslPlain(args[1]!);
  }

  private saslResponse(line: Buffer): void | Promise<void> {
    if (!isPrintableAscii(line, 0x20)) throw new Pop3Failure(ERR.invalidBase64);
    const text = line.toString('latin1');
    // RFC 5034 section 4: "If the client wishes to cancel the authentication
    // exchange, it issues a line with a single "*". If the server receives
    // such a response, it MUST reject the AUTH command by sending an -ERR reply."
    if (text === '*') throw new Pop3Failure(ERR.authCancelled);
    return this.saslPlain(text);
  }

  private saslPlain(response: string): void | Promise<void> {
    const decoded = decodePlainResponse(response);
    if (!decoded.ok) {
      // RFC 5034 section 4: "If the client's response is not correctly base64
      // encoded, the server MUST reject the AUTH command with -ERR."
      throw new Pop3Failure(decoded.error === 'bad-base64' ? ERR.invalidBase64 : ERR.malformedPlain);
    }
    // RFC 4616 section 2: a non-empty authzid is the identity to act as; we
    // allow only acting as oneself.
    if (decoded.authzid !== '' && decoded.authzid !== decoded.authcid) {
      this.log.info('login.failed', { user: logName(decoded.authcid), mechanism: 'PLAIN', reason: 'authzid' });
      throw new Pop3Failure(ERR.authzidRefused);
    }
    return this.login(decoded.authcid, Buffer.from(decoded.password, 'utf8'), 'PLAIN');
  }

  /**
   * USER/PASS or AUTH PLAIN: checks the credentials, delays a failure, then
   * locks and opens the mailbox. Each step raises its own Pop3Failure.
   */
  private async login(user: string, password: Buffer, mechanism: Mechanism): Promise<void> {
    const result = await this.verify(user, password);
    if (this.gone) return;
    if (!result.ok) {
      const delayMs = this.loginFailed(user, mechanism, result.reason);
      await this.sleep(delayMs);
      throw new Pop3Failure(ERR.authFailed);
    }
    const mailbox = await this.openMailbox(user, result.maildir);
    if (this.gone) {
      // The connection went away while the mailbox opened: do not keep it locked.
      mailbox.release();
      return;
    }
    this.enterTransaction(user, mailbox, mechanism);
  }

  /** The user database's answer; the database failing is [SYS/TEMP], not a wrong password. */
  private async verify(user: string, password: Buffer): Promise<VerifyResult> {
    try {
      return await this.env.users.verify(user, password);
    } catch (err) {
      this.log.error('userdb.error', { error: err });
      throw new Pop3Failure(ERR.authUnavailable, { cause: err });
    }
  }

  /** Counts a failed login against the peer (the login throttle) and logs it; returns how long to delay the reply. */
  private loginFailed(user: string, mechanism: Mechanism, reason: VerifyFailure): number {
    const delayMs = this.env.loginThrottle.recordFailure(this.peerAddress, this.env.settings().limits);
    // A name no user has is often a password typed into the wrong field: never logged as it is.
    const logged = reason === 'unknown-user' ? unknownUserName(user) : logName(user);
    this.log.info('login.failed', { user: logged, mechanism, reason, delayMs });
    this.env.metrics.loginFailed(mechanism, delayMs);
    return delayMs;
  }

  /**
   * Locks and scans the mailbox. A failure is answered by its response code
   * (mailStoreReply) and the session stays in AUTHORIZATION: RFC 1939 §4
   * lets the client "issue a new authentication command and start again".
   */
  private async openMailbox(user: string, maildir: string | undefined): Promise<Mailbox> {
    try {
      return await this.env.metrics.timeMaildirScan(() => this.env.mailstore.open(user, maildir));
    } catch (err) {
      const failure = err instanceof MailStoreError ? err : undefined;
      if (!this.gone) {
        if (failure !== undefined) this.log.warn('mailbox.unavailable', { user: logName(user), code: failure.code });
        else this.log.error('mailbox.unavailable', { user: logName(user), error: err });
      }
      throw new Pop3Failure(mailStoreReply(failure), { cause: err });
    }
  }

  private enterTransaction(user: string, mailbox: Mailbox, mechanism: Mechanism): void {
    this.mailbox = mailbox;
    this._user = user;
    this._state = 'TRANSACTION';
    this.env.metrics.loginSucceeded(mechanism);
    this.log = this.log.child({ user: logName(user) });
    this.log.info('login.succeeded', {
      mechanism,
      tls: this.secure,
      messages: mailbox.messages.length,
      octets: mailbox.totalSize,
    });
    this.touch();
    this.send(OK.loggedIn(mailbox.messages.length, mailbox.totalSize));
  }

  private cmdStls(): void | Promise<void> {
    if (!this.stlsOffered()) {
      if (this.secure) {
        // RFC 2595 section 4's example reply.
        throw new Pop3Failure(ERR.tlsActive);
      } else {
        throw new Pop3Failure(ERR.unknownCommand);
      }
      return;
    }
    const context = this.env.secureContext()!;
    // RFC 2595 section 4: "The server MUST discard any knowledge obtained from
    // the client, such as the argument to the USER command, which was not
    // obtained from the TLS negotiation itself." And whatever it pipelined
    // after STLS is dropped, never executed.
    this.pendingUser = undefined;
    this.reader.clear();
    this.tlsStarting = true;
    // "A TLS negotiation begins immediately after the CRLF at the end of the
    // +OK response from the server."
    this.send(OK.beginTls);
    uncorkAll(this.socket);
    const plain = this.socket;
    this.paused = false;
    plain.removeListener('data', this.onData);
    plain.removeListener('end', this.onEnd);

    // The handshake's own timeout (the same as POP3S's) runs instead of the session's until it is done.
    clearTimeout(this.timer);
    this.timer = undefined;

    return new Promise<void>((resolve) => {
      const secure = this.env.startTls(plain, {
        context,
        limits: this.env.settings().limits,
        mode: 'stls',
        log: this.log,
        onSecure: () => {
          this.tlsStarting = false;
          this.secure = true;
          this.reader.clear();
          this.paused = false;
          this.log.info('tls.starttls', { protocol: secure.getProtocol() });
          this.touch();
          resolve();
        },
      });
      this.socket = secure;
      this.attach(secure);
      secure.once('close', () => resolve());
    });
  }

  // ---------------------------------------------------------------------------
  // TRANSACTION state

  /**
   * The 0-based index of message `arg`; a Pop3Failure when there is none.
   * RFC 1939 section 5: a message-number argument "may NOT refer to a message
   * marked as deleted".
   */
  private messageIndex(arg: string): number {
    if (!NUMBER_RE.test(arg)) throw new Pop3Failure(ERR.invalidMessageNumber);
    const n = Number(arg);
    const messages = this.mailbox!.messages;
    if (n < 1 || n > messages.length) throw new Pop3Failure(ERR.noSuchMessage);
    if (this.deleted !== undefined && this.deleted[n - 1] === 1) throw new Pop3Failure(ERR.alreadyDeleted(n));
    return n - 1;
  }

  private cmdStat(): void {
    // RFC 1939 section 5 (STAT): "Note that messages marked as deleted are not
    // counted in either total."
    const mb = this.mailbox!;
    this.send(OK.stat(mb.messages.length - this.deletedCount, mb.totalSize - this.deletedOctets));
  }

  private cmdList(arg: string | undefined): void {
    const mb = this.mailbox!;
    if (arg !== undefined) {
      const i = this.messageIndex(arg);
      this.send(OK.scanListing(i + 1, mb.messages[i]!.size));
      return;
    }
    // RFC 1939 section 5 (LIST): "Note that messages marked as deleted are not listed."
    const msgs = mb.messages;
    const del = this.deleted;
    let out = OK.list(msgs.length - this.deletedCount, mb.totalSize - this.deletedOctets) + '\r\n';
    for (let i = 0; i < msgs.length; i++) {
      if (del === undefined || del[i] === 0) out += `${i + 1} ${msgs[i]!.size}\r\n`;
    }
    this.send(out + '.');
  }

  private cmdUidl(arg: string | undefined): void {
    const msgs = this.mailbox!.messages;
    if (arg !== undefined) {
      const i = this.messageIndex(arg);
      this.send(OK.scanListing(i + 1, msgs[i]!.uid));
      return;
    }
    const del = this.deleted;
    let out = OK.plain + '\r\n';
    for (let i = 0; i < msgs.length; i++) {
      if (del === undefined || del[i] === 0) out += `${i + 1} ${msgs[i]!.uid}\r\n`;
    }
    this.send(out + '.');
  }

  private cmdRetr(arg: string): void | Promise<void> {
    const i = this.messageIndex(arg);
    this.retrieved.add(i);
    return this.sendMessage(i, undefined, OK.retr(this.mailbox!.messages[i]!.size));
  }

  private cmdTop(arg: string, lines: string): void | Promise<void> {
    if (!NUMBER_RE.test(lines)) throw new Pop3Failure(ERR.invalidLineCount);
    const i = this.messageIndex(arg);
    // RFC 1939 section 7 (TOP): "the POP3 server sends the headers of the
    // message, the blank line separating the headers from the body, and then
    // the number of lines of the indicated message's body".
    return this.sendMessage(i, Number(lines), OK.top);
  }

  private async sendMessage(index: number, bodyLines: number | undefined, firstLine: string): Promise<void> {
    const socket = this.socket;
    const writer = new MessageWriter(this, socket, firstLine + '\r\n');
    this.streaming = true;
    try {
      await this.mailbox!.write(index, writer, { bodyLines });
    } catch (err) {
      this.streaming = false;
      if (this.gone) return;
      if (writer.prefix !== null && err instanceof MessageUnavailableError) {
        // Nothing of the response went out yet: a clean -ERR is still possible.
        throw new Pop3Failure(ERR.messageUnreadable, { cause: err });
      }
      this.log.error('message.stream_failed', { index: index + 1, error: err });
      this.destroy();
      return;
    }
    this.streaming = false;
    if (this.gone) return;
    this.replies.reply(OK.plain);
    // RFC 1939 section 3: "a multi-line response is terminated with the five
    // octets "CRLF.CRLF"" (the message always ends with CRLF here).
    socket.write((writer.prefix ?? '') + '.\r\n');
    writer.prefix = null;
    uncorkAll(socket);
  }

  private cmdDele(arg: string): void {
    const i = this.messageIndex(arg);
    const mb = this.mailbox!;
    // RFC 1939 section 5 (DELE): "The POP3 server marks the message as
    // deleted. Any future reference to the message-number associated with the
    // message in a POP3 command generates an error." Numbers never shift.
    this.deleted ??= new Uint8Array(mb.messages.length);
    this.deleted[i] = 1;
    this.deletedCount++;
    this.deletedOctets += mb.messages[i]!.size;
    this.send(OK.deleted(i + 1));
  }

  private cmdNoop(): void {
    this.send(OK.plain);
  }

  private cmdRset(): void {
    // RFC 1939 section 5 (RSET): "If any messages have been marked as deleted
    // by the POP3 server, they are unmarked."
    this.deleted?.fill(0);
    this.retrieved.clear(); // as Dovecot's RSET forgets what is to be flagged seen
    this.deletedCount = 0;
    this.deletedOctets = 0;
    const mb = this.mailbox!;
    this.send(OK.reset(mb.messages.length, mb.totalSize));
  }

  // ---------------------------------------------------------------------------
  // QUIT and the UPDATE state

  private cmdQuit(): void | Promise<void> {
    if (this._state === 'AUTHORIZATION') {
      // RFC 1939 section 4 (QUIT in AUTHORIZATION): no UPDATE state.
      this.log.info('session.quit', { deleted: 0 });
      this.finish(OK.loggingOut);
      return;
    }
    return this.update();
  }

  private async update(): Promise<void> {
    // RFC 1939 section 6: "When the client issues the QUIT command from the
    // TRANSACTION state, the POP3 session enters the UPDATE state."
    this._state = 'UPDATE';
    this.expunging = true;
    uncorkAll(this.socket);
    const mailbox = this.mailbox!;
    const indices: number[] = [];
    if (this.deleted !== undefined)
      for (let i = 0; i < this.deleted.length; i++) if (this.deleted[i] === 1) indices.push(i);
    let failed = 0;
    try {
      // "The POP3 server removes all messages marked as deleted from the maildrop
      // and replies as to the status of this operation. [...] In no case may the
      // server remove any messages not marked as deleted."
      if (indices.length > 0) failed = (await mailbox.expunge(indices)).failed;
      const seen = [...this.retrieved].filter((i) => this.deleted?.[i] !== 1);
      if (seen.length > 0) await mailbox.markSeen?.(seen);
    } catch (err) {
      this.log.error('mailbox.expunge_failed', { error: err });
      failed = indices.length;
    } finally {
      this.expunging = false;
      mailbox.release();
      this.mailbox = undefined;
    }
    this.log.info('session.quit', { deleted: indices.length - failed, failed });
    this.env.metrics.messagesDeleted(indices.length - failed);
    if ((this._state as SessionState) === 'CLOSED') return;
    // RFC 1939 section 6, possible responses: "-ERR some deleted messages not removed".
    if (failed > 0) this.finish(ERR.notRemoved.line);
    else this.finish(OK.loggedOut(indices.length));
  }
}

/** Every octet in [min, 0x7E]. */
function isPrintableAscii(buf: Buffer, min: number): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < min || c > 0x7e) return false;
  }
  return true;
}

/** No NUL or other control character; octets above 0x7F allowed (UTF-8). */
function isTextWith8Bit(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** Key of unknownUserName's HMAC: made per process, so a logged tag cannot be checked against guesses offline. */
const UNKNOWN_USER_KEY = randomBytes(32);

/**
 * How an unknown user name is logged: `unknown:` and 16 hex digits of an
 * HMAC of it, so repeated attempts with one name can be told apart from
 * others in one daemon's log without the name being written.
 */
function unknownUserName(user: string): string {
  return `unknown:${createHmac('sha256', UNKNOWN_USER_KEY).update(user).digest('hex').slice(0, 16)}`;
}

function logName(user: string): string {
  return user.length > MAX_LOGGED_USER ? user.slice(0, MAX_LOGGED_USER) + '...' : user;
}
