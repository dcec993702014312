/**
 * The admin client now lives in @pop3-iac/admin-client (the contract and
 * every transport); this path stays for the code that imports it from here.
 */
export {
  adminRequest,
  ADMIN_TIMEOUT_MS,
  AdminClient,
  DaemonUnreachableError,
  type AdminResponse,
} from '@pop3-iac/admin-client';
