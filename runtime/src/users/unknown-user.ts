/**
 * What an unknown user's login is checked against, so that it costs what a
 * known user's costs (timing must not tell which names exist).
 *
 * A user database whose users mix schemes (PLAIN for some, SHA512-CRYPT or
 * Argon2 for others) has no one right dummy: one of the cheapest scheme makes
 * unknown names fast, one of the dearest makes cheap users stand out. So each
 * unknown name is checked against a dummy of a cost class that users really
 * have, picked by a keyed hash of the name (HMAC-SHA256, key random per
 * process) and weighted by how many users have that class: the same name
 * always costs the same, and the costs of unknown names are distributed as
 * those of the real users.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type Credential, defaultDummy } from './credentials';

/** Distinct cost classes remembered at most; further ones are checked as the classes known. */
const MAX_CLASSES = 64;

interface CostClass {
  dummy: Credential;
  users: number;
}

export class UnknownUserCost {
  private readonly key = randomBytes(32);
  private readonly classes = new Map<string, CostClass>();
  private total = 0;
  private fallback: Credential | undefined;

  /** Counts one user holding `credential`. */
  add(credential: Credential): void {
    let c = this.classes.get(credential.cost);
    if (c === undefined) {
      if (this.classes.size >= MAX_CLASSES) return;
      c = { dummy: credential.dummy(), users: 0 };
      this.classes.set(credential.cost, c);
    }
    c.users++;
    this.total++;
  }

  /** Forgets one user counted by add() (a database row whose hash changed). */
  remove(credential: Credential): void {
    const c = this.classes.get(credential.cost);
    if (c === undefined) return;
    c.users--;
    this.total--;
    if (c.users === 0) this.classes.delete(credential.cost);
  }

  /** The dummy for `name`: a stable pick among the users' cost classes, SHA512-CRYPT when none is known. */
  dummyFor(name: string): Credential {
    if (this.total === 0) return (this.fallback ??= defaultDummy());
    const h = createHmac('sha256', this.key).update(name, 'utf8').digest();
    let pick = h.readUIntBE(0, 6) % this.total;
    for (const c of this.classes.values()) {
      if (pick < c.users) return c.dummy;
      pick -= c.users;
    }
    return this.classes.values().next().value!.dummy;
  }
}
