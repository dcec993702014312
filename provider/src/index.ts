export {
  Pop3Service,
  type Pop3ServiceArgs,
  type BindArgs,
  type BindsArgs,
  type PatternsArgs,
  type SslArgs,
  type TlsFilesArgs,
  type TlsInlineArgs,
  type LimitsArgs,
  type AdminArgs,
  type AdminSocketArgs,
  type AdminSshArgs,
  type AdminTlsArgs,
} from './resource';
export { pop3ServiceProvider } from './provider';
export { FIELDS, FIELD_NAMES, type FieldEffect, type ServiceField } from './fields';
export { Pop3ProviderError, EMPTY_CONFIG, type Pop3ServiceState } from './operations';
