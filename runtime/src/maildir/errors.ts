/**
 * Failures of the mail store. Each has a stable `code` and the RFC 2449 /
 * RFC 3206 response code the session answers with (`respCode`).
 */

export type MailStoreErrorCode =
  | 'MAILBOX_IN_USE'
  | 'MAILBOX_UNAVAILABLE'
  | 'MAILBOX_INVALID_USER'
  | 'MAILBOX_INVALID_PATH'
  | 'MAILBOX_REFUSED'
  | 'MESSAGE_UNAVAILABLE';

/** The POP3 response code (RFC 2449 section 8, RFC 3206) for a failure. */
export type RespCode = 'IN-USE' | 'SYS/TEMP' | 'SYS/PERM';

export abstract class MailStoreError extends Error {
  abstract readonly code: MailStoreErrorCode;
  abstract readonly respCode: RespCode;
  /** `name` is the class's own, as with the built-in errors. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another session holds the mailbox. */
export class MailboxInUseError extends MailStoreError {
  readonly code = 'MAILBOX_IN_USE';
  readonly respCode = 'IN-USE';
  constructor(user: string) {
    super(`mailbox of ${JSON.stringify(user)} is in use by another session`);
  }
}

/** The mailbox could not be opened or scanned (I/O trouble, missing root): try again later. */
export class MailboxUnavailableError extends MailStoreError {
  readonly code = 'MAILBOX_UNAVAILABLE';
  readonly respCode = 'SYS/TEMP';
}

/** The user name cannot name a mailbox directory (`/`, `..`, NUL...): retrying will not help. */
export class InvalidMailboxUserError extends MailStoreError {
  readonly code = 'MAILBOX_INVALID_USER';
  readonly respCode = 'SYS/PERM';
  constructor(user: string) {
    super(`user name ${JSON.stringify(user)} cannot name a mailbox`);
  }
}

/**
 * The Maildir is not where it must be: it (or `<root>/<user>`, new/ or cur/)
 * is a symlink or not a directory. Refused, since following it would let one
 * user read and delete another's mail; retrying will not help.
 */
export class MailboxRefusedError extends MailStoreError {
  readonly code = 'MAILBOX_REFUSED';
  readonly respCode = 'SYS/PERM';
  constructor(user: string, reason: string) {
    super(`the Maildir of ${JSON.stringify(user)} is refused: ${reason}`);
  }
}

/** The Maildir a user database named is absolute or leaves the root (`..`): the operator must fix the row. */
export class InvalidMaildirPathError extends MailStoreError {
  readonly code = 'MAILBOX_INVALID_PATH';
  readonly respCode = 'SYS/PERM';
  constructor(maildir: string) {
    super(`the Maildir ${JSON.stringify(maildir)} is not a relative path below the Maildir root`);
  }
}

/** One message file could not be read (removed behind our back, I/O error) before anything was sent. */
export class MessageUnavailableError extends MailStoreError {
  readonly code = 'MESSAGE_UNAVAILABLE';
  readonly respCode = 'SYS/TEMP';
}
