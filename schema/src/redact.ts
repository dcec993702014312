/**
 * The form a configuration is shown in outside the daemon: an inline private
 * key is replaced by its fingerprint. Desired and live configurations are
 * compared in this form, so a key can be checked for drift without being read.
 */
import { keyFingerprint } from './tls-material';
import type { CanonicalConfig, RedactedConfig } from './types';

export function redactConfig(config: CanonicalConfig): RedactedConfig {
  const { tls, ...rest } = config;
  if (tls === undefined) return rest;
  if (!('keyPem' in tls)) return { ...rest, tls };
  return {
    ...rest,
    tls: { certPem: tls.certPem, keyFingerprint: keyFingerprint(tls.keyPem), minVersion: tls.minVersion },
  };
}
