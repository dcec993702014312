/**
 * The daemon's identity: a UUID made at the first start and kept in the state
 * directory, so the same daemon is recognised however it is reached (socket
 * path, mutual TLS, SSH) and a different daemon behind the same address is
 * not mistaken for it. Shown as `instanceId` in GET /v1/status.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const INSTANCE_ID_FILE = 'instance-id';
/** The header that carries the identity is the admin API's contract. */
export { INSTANCE_ID_HEADER } from '@pop3-iac/admin-client';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads `<stateDir>/instance-id`, or makes it (exclusive create, fsync) when there is none. */
export async function loadOrCreateInstanceId(stateDir: string): Promise<string> {
  const path = join(stateDir, INSTANCE_ID_FILE);
  for (;;) {
    try {
      const id = (await readFile(path, 'utf8')).trim();
      if (!UUID.test(id)) throw new Error(`${path} does not hold a UUID; remove it to make a new identity`);
      return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    try {
      const file = await open(path, 'wx', 0o600);
      try {
        await file.writeFile(`${randomUUID()}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
    } catch (error) {
      // Another process made it first: read theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
