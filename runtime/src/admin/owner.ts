/**
 * The owner of the running configuration, as the daemon handles it. The
 * headers, their encoding and the owner record are the admin API's contract
 * (@pop3-iac/admin-client, owner.ts); here a malformed owner becomes the
 * daemon's `bad_owner` answer. The owner is persisted beside the
 * configuration (config-store.ts).
 */
import * as contract from '@pop3-iac/admin-client';
import { AdminError } from './errors';

export {
  describeOwner,
  IF_OWNER_HEADER,
  NO_OWNER,
  OWNER_HEADER,
  ownerHeaderValue,
  ownerMatches,
  type Owner,
  type OwnerChange,
} from '@pop3-iac/admin-client';

/** The contract's ownerChangeOf, failing as the admin API's `bad_owner`. */
export function ownerChangeOf(header: string | undefined): contract.OwnerChange {
  return asAdminError(() => contract.ownerChangeOf(header));
}

/** The contract's parseOwner, failing as the admin API's `bad_owner`. */
export function parseOwner(value: unknown, where: string): contract.Owner {
  return asAdminError(() => contract.parseOwner(value, where));
}

function asAdminError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof contract.BadOwnerError) throw new AdminError('bad_owner', error.message);
    throw error;
  }
}
