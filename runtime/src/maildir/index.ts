export {
  type MailStore,
  type Mailbox,
  type MessageInfo,
  type MessageSink,
  type WriteOptions,
  type MaildirStoreOptions,
  MaildirStore,
  SinkClosedError,
  isValidMailboxUser,
  uniqueName,
  uidlFor,
  measureMessageFile,
} from './store.js';
export {
  type MailStoreErrorCode,
  type RespCode,
  MailStoreError,
  MailboxInUseError,
  MailboxUnavailableError,
  InvalidMailboxUserError,
  MailboxRefusedError,
  MessageUnavailableError,
} from './errors.js';
export { Normaliser, type NormaliserOptions } from './normalise.js';
