/**
 * What other packages use of the runtime: the admin API client (from
 * @pop3-iac/admin-client, re-exported so existing imports keep working) and
 * the owner headers of its configuration. The daemon itself is started
 * through bin/pop3d.js, not imported.
 */
export * from '@pop3-iac/admin-client';
export { IF_OWNER_HEADER, NO_OWNER, OWNER_HEADER, ownerChangeOf, ownerHeaderValue, describeOwner } from './admin/owner';
export { INSTANCE_ID_HEADER } from './admin/instance-id';
