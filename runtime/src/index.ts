/**
 * What other packages use of the runtime: the admin API client. (The daemon
 * itself is started through bin/pop3d.js, not imported.)
 */
export { adminRequest, ADMIN_TIMEOUT_MS, DaemonUnreachableError, type AdminResponse } from './cli/admin-client';
