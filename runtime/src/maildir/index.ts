export {
  type MailStore,
  type Mailbox,
  type MessageInfo,
  type WriteOptions,
  type MaildirStoreOptions,
  MaildirStore,
  isValidMailboxUser,
  uniqueName,
  uidlFor,
  maildirBelowRoot,
} from './store.js';
export { type MessageSink, SinkClosedError } from './message-sink.js';
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
