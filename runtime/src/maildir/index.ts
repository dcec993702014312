export type { MailStore, Mailbox, MessageInfo, WriteOptions } from './types';
export { type MessageSink, SinkClosedError } from './message-sink';
export { type MaildirStoreOptions, MaildirStore } from './store';
export { isValidMailboxUser, maildirBelowRoot } from './paths';
export { uniqueName, uidlFor } from './names';
export { measureMessageFile } from './measure-message';
export { LOCK_FILE, LOCK_STALE_MS } from './mailbox-lock';
export {
  type MailStoreErrorCode,
  type RespCode,
  MailStoreError,
  MailboxInUseError,
  MailboxUnavailableError,
  InvalidMailboxUserError,
  MailboxRefusedError,
  InvalidMaildirPathError,
  MessageUnavailableError,
} from './errors';
export { Normaliser, type NormaliserOptions } from './normalise';
