/**
 * What other packages use of the runtime: the admin API client (from
 * @pop3-iac/admin-client, re-exported so existing imports keep working). The
 * daemon itself is started through bin/pop3d.js, not imported.
 */
export * from '@pop3-iac/admin-client';
