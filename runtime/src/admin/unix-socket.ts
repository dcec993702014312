/**
 * Binding the admin socket safely: a stale socket file left by a dead daemon
 * is replaced; a live daemon's socket is never taken over; the socket is
 * created with mode 0600 (connecting to a Unix socket needs write permission,
 * so only the daemon's user can talk to it).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Server } from 'node:http';

const ADMIN_SOCKET_MODE = 0o600;

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function listenOnUnixSocket(server: Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const existing = await lstat(path).catch(() => undefined);
  if (existing) {
    if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    if (await answers(path))
      throw new Error(`another daemon is answering on ${path}; stop it or choose another --admin-socket`);
    await unlink(path);
  }
  // Narrow the umask while the socket file is created so it is never, even briefly, open to others.
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  await chmod(path, ADMIN_SOCKET_MODE);
}
