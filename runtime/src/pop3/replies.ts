/**
 * Every reply text the POP3 server writes, by name, and the one place a
 * failure becomes its `-ERR` line.
 *
 * A command handler that refuses raises a Pop3Failure carrying one of the
 * ERR replies below; the session turns it into `-ERR [CODE] text` (errLine)
 * and, for a protocol error, counts it toward maxBadCommands. A mail store
 * failure maps to its reply in mailStoreReply. Texts are what clients and
 * tests see: change one only on purpose.
 */
import { type MailStoreError, type RespCode } from '../maildir/index';

/**
 * The response codes sent (RFC 2449 §8: `-ERR [CODE] text`): AUTH (RFC 3206
 * §5, a credentials problem), IN-USE (RFC 2449 §8.1.1), SYS/TEMP and
 * SYS/PERM (RFC 3206 §4, a system problem, temporary or not).
 */
export type ResponseCode = 'AUTH' | RespCode;

/** A negative reply: its response code, text, and whether it is a protocol error. */
export interface ErrReply {
  readonly code: ResponseCode | undefined;
  readonly text: string;
  /** An unknown, misplaced or malformed command: counted, and past maxBadCommands the session ends. */
  readonly bad: boolean;
  /** The line as sent, without CRLF: errLine(code, text). */
  readonly line: string;
}

/** The one mapping from a response code and text to the wire: `-ERR [CODE] text`, or `-ERR text` without a code. */
function errLine(code: ResponseCode | undefined, text: string): string {
  return code === undefined ? `-ERR ${text}` : `-ERR [${code}] ${text}`;
}

function err(code: ResponseCode | undefined, text: string, bad = false): ErrReply {
  return { code, text, bad, line: errLine(code, text) };
}

/** A command refused with `reply`, raised by a handler and answered by the session. */
export class Pop3Failure extends Error {
  constructor(
    readonly reply: ErrReply,
    options?: { cause?: unknown },
  ) {
    super(reply.line, options);
    this.name = 'Pop3Failure';
  }
}

/** Text of a server-supplied reason (shutdown, a newly denied peer): printable ASCII, one line, bounded. */
function reasonText(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, ' ').slice(0, 400);
}

/** Negative replies. */
export const ERR = {
  // RFC 1939 §3: the command line itself.
  lineTooLong: err(undefined, 'Line too long', true),
  invalidCharacters: err(undefined, 'Invalid characters in command', true),
  unknownCommand: err(undefined, 'Unknown command', true),
  notValidInState: err(undefined, 'Command not valid in this state', true),
  wrongArguments: (verb: string): ErrReply => err(undefined, `Wrong number of arguments for ${verb}`, true),
  tooManyBadCommands: err(undefined, 'Too many bad commands'),
  internal: err('SYS/TEMP', 'Internal server error'),
  // RFC 1939 §3: the autologout timer.
  idle: err('SYS/TEMP', 'Autologout; idle for too long'),
  terminated: (reason: string): ErrReply => err('SYS/TEMP', reasonText(reason)),
  // Connection control (server/pop3-server.ts), before the greeting.
  tooManyConnections: err('SYS/TEMP', 'too many connections, try later'),

  // AUTHORIZATION: USER/PASS (RFC 1939 §7), AUTH PLAIN (RFC 5034, RFC 4616).
  plaintextRefused: err('AUTH', 'Plaintext authentication disallowed on non-secure connection; use STLS or port 995'),
  noUser: err(undefined, 'No USER given', true),
  unsupportedMechanism: err(undefined, 'Unsupported authentication mechanism'),
  invalidBase64: err(undefined, 'Invalid base64 data'),
  malformedPlain: err(undefined, 'Malformed SASL PLAIN message'),
  authCancelled: err(undefined, 'Authentication cancelled'),
  authzidRefused: err('AUTH', 'Authorization identity not permitted'),
  authFailed: err('AUTH', 'Authentication failed'),
  authUnavailable: err('SYS/TEMP', 'Authentication temporarily unavailable'),
  mailboxInUse: err('IN-USE', 'Mailbox is locked by another session'),
  mailboxRefused: err('SYS/PERM', 'Mailbox cannot be opened'),
  mailboxUnavailable: err('SYS/TEMP', 'Mailbox temporarily unavailable'),
  // RFC 2595 §4's example reply.
  tlsActive: err(undefined, 'Command not permitted when TLS active', true),

  // TRANSACTION (RFC 1939 §5, §7).
  invalidMessageNumber: err(undefined, 'Invalid message number', true),
  invalidLineCount: err(undefined, 'Invalid number of lines', true),
  noSuchMessage: err(undefined, 'No such message'),
  alreadyDeleted: (n: number): ErrReply => err(undefined, `Message ${n} already deleted`),
  messageUnreadable: err('SYS/TEMP', 'Message cannot be read now'),

  // UPDATE (RFC 1939 §6): "-ERR some deleted messages not removed".
  notRemoved: err(undefined, 'Some deleted messages not removed'),
} as const;

/** The reply to a mailbox that cannot be opened at login, by the failure's response code. */
export function mailStoreReply(failure: MailStoreError | undefined): ErrReply {
  if (failure?.respCode === 'IN-USE') return ERR.mailboxInUse;
  if (failure?.respCode === 'SYS/PERM') return ERR.mailboxRefused;
  return ERR.mailboxUnavailable;
}

/** What a connection may do, for CAPA. */
export interface Offer {
  /** USER/PASS and SASL PLAIN are allowed here. */
  plaintext: boolean;
  /** STLS is offered now. */
  stls: boolean;
}

/** Positive replies; a multi-line one without its final CRLF (the session adds it). */
export const OK = {
  // RFC 1939 §4. No APOP timestamp: APOP is not offered.
  greeting: (host: string): string => `+OK ${host} POP3 server ready`,
  plain: '+OK',
  /**
   * RFC 2449 §5. USER and SASL PLAIN are not announced where plaintext login
   * is refused (as Dovecot's disable_plaintext_auth does), STLS only before TLS
   * (RFC 2595 §4: the client "MUST discard cached information about server
   * capabilities" once it starts).
   */
  capabilities(offer: Offer): string {
    let out = '+OK Capability list follows\r\nTOP\r\n';
    if (offer.plaintext) out += 'USER\r\n';
    out += 'UIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n';
    if (offer.plaintext) out += 'SASL PLAIN\r\n';
    if (offer.stls) out += 'STLS\r\n';
    return out + 'IMPLEMENTATION pop3d\r\n.';
  },
  /** A bare AUTH: the mechanisms this connection allows (PLAIN where plaintext login is allowed). */
  mechanisms: (plaintext: boolean): string => (plaintext ? '+OK\r\nPLAIN\r\n.' : '+OK\r\n.'),
  // RFC 5034 §4: PLAIN's first challenge is empty.
  saslChallenge: '+ ',
  loggedIn: (messages: number, octets: number): string => `+OK Logged in, ${messages} messages (${octets} octets)`,
  // RFC 2595 §4.
  beginTls: '+OK Begin TLS negotiation',
  stat: (messages: number, octets: number): string => `+OK ${messages} ${octets}`,
  /** LIST n and UIDL n: one scan listing. */
  scanListing: (n: number, value: number | string): string => `+OK ${n} ${value}`,
  /** LIST: the first line; the scan listings follow. */
  list: (messages: number, octets: number): string => `+OK ${messages} messages (${octets} octets)`,
  retr: (octets: number): string => `+OK ${octets} octets`,
  top: '+OK Top of message follows',
  deleted: (n: number): string => `+OK Message ${n} deleted`,
  reset: (messages: number, octets: number): string => `+OK Maildrop has ${messages} messages (${octets} octets)`,
  loggingOut: '+OK Logging out',
  loggedOut: (deleted: number): string => `+OK Logging out (${deleted} deleted)`,
} as const;
