export type { MailStore, Mailbox, MessageInfo, WriteOptions } from './types.js';
export { type MessageSink, SinkClosedError } from './message-sink.js';
export { type MaildirStoreOptions, MaildirStore } from './store.js';
export { isValidMailboxUser, maildirBelowRoot } from './paths.js';
export { uniqueName, uidlFor } from './names.js';
export { measureMessageFile } from './measure-message.js';
export { LOCK_FILE, LOCK_REFRESH_MS, LOCK_STALE_MS } from './mailbox-lock.js';
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
} from './errors.js';
export { Normaliser, type NormaliserOptions } from './normalise.js';
