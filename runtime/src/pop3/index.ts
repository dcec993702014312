export {
  Pop3Session,
  type SessionSettings,
  type SessionEnvironment,
  type SessionInfo,
  type SessionState,
} from './session';
export { LineReader, LINE_TOO_LONG, type LineItem } from './line-reader';
export { decodePlainResponse, type PlainDecodeResult } from './sasl-plain';
