/**
 * What other packages use of the runtime: the admin API client, and the
 * owner headers of its configuration. (The daemon
 * itself is started through bin/pop3d.js, not imported.)
 */
export { adminRequest, ADMIN_TIMEOUT_MS, DaemonUnreachableError, type AdminResponse } from './cli/admin-client';
export {
  IF_OWNER_HEADER,
  NO_OWNER,
  OWNER_HEADER,
  ownerChangeOf,
  ownerHeaderValue,
  describeOwner,
  type Owner,
} from './admin/owner';
export { INSTANCE_ID_HEADER } from './admin/instance-id';
