/**
 * What the POP3 session sees of a mail store: a mailbox opened for one
 * session, its fixed listing, and how a message is written out. The Maildir
 * implementation is MaildirStore (store.ts).
 */
import type { MessageSink } from './message-sink';

/** One message as listed for the session: fixed for the session's lifetime. */
export interface MessageInfo {
  /** RFC 1939 unique-id: 1-70 characters in 0x21-0x7E, stable across sessions. */
  readonly uid: string;
  /** Octets of the message as sent (CRLF line endings), before dot-stuffing. */
  readonly size: number;
}

export interface WriteOptions {
  /** TOP: body lines after the header and its blank line. Undefined: the whole message (RETR). */
  bodyLines?: number;
}

export interface Mailbox {
  /** The messages, ordered by delivery time then name; message number n is index n-1. */
  readonly messages: ReadonlyArray<MessageInfo>;
  /** Sum of the message sizes. */
  readonly totalSize: number;
  /**
   * Streams message `index` (0-based) to `out`: CRLF-normalised, dot-stuffed,
   * never the terminating ".\r\n". Respects backpressure (waits for 'drain').
   * Rejects with MessageUnavailableError if the file cannot be opened (nothing
   * was written then), or with another error if the output closed or a read
   * failed midway.
   */
  write(index: number, out: MessageSink, opts?: WriteOptions): Promise<void>;
  /** Removes messages (0-based indices). A file already gone counts as removed. */
  expunge(indices: readonly number[]): Promise<{ failed: number }>;
  /** Sets the seen flag on messages (0-based indices) retrieved by a session that ended with QUIT; optional. */
  markSeen?(indices: readonly number[]): Promise<void>;
  /** Lets another session open the mailbox. Idempotent. */
  release(): void;
}

export interface MailStore {
  /**
   * Locks and scans the mailbox of `user`: `<root>/<user>/Maildir`, or
   * `<root>/<maildir>` when the user database names the Maildir. Rejects
   * with MailboxInUseError (`[IN-USE]`), InvalidMailboxUserError or
   * InvalidMaildirPathError (`[SYS/PERM]`) or MailboxUnavailableError
   * (`[SYS/TEMP]`).
   */
  open(user: string, maildir?: string): Promise<Mailbox>;
}
