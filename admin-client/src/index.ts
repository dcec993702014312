/** @pop3-iac/admin-client: the admin API's contract and its one client. */
export * from './contract';
export * from './errors';
export * from './owner';
export { AdminClient, AdminApiError, adminRequest, type AdminClientOptions } from './client';
export { ADMIN_TIMEOUT_MS, type AdminResponse } from './http-exchange';
export { acceptedHostKeys, fingerprintOf, type HostKey } from './host-key';
export {
  describeTarget,
  targetFromUrl,
  type AdminTarget,
  type SocketTarget,
  type SshTarget,
  type TargetMaterial,
  type TlsTarget,
} from './target';
