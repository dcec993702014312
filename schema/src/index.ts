export * from './types';
export { parseConfig, canonicalize, formatIssues, formatPath, ConfigInvalidError, type ParseResult } from './parse';
export {
  configSchema,
  configInputSchema,
  DEFAULT_PORT,
  DEFAULT_SSL_PORT,
  MAX_BINDS,
  MAX_ACCESS_PATTERNS,
  type ConfigInput,
} from './config-schema';
export { DEFAULT_LIMITS } from './limits';
export { ANY_ADDRESS, renderBinds, splitBindText, canonicalBindAddress, bindsOverlap } from './binds';
export { parseAccessPattern, compileAccessRules, type AccessMatcher, type AccessDecision } from './access';
export { normalizePeerAddress, formatAddress, peerKey, isLoopback, type ParsedAddress } from './address';
export { diffConfigs, sameJson, type FieldChange } from './diff';
export { listenersOf, listenerKey, planListeners, type ListenerPlan } from './listeners';
export { redactConfig } from './redact';
export { checkTlsMaterial, keyFingerprint } from './tls-material';
export { configJsonSchema } from './json-schema';
