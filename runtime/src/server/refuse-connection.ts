/**
 * The one way pop3d turns a connection away (permit/deny, maxConnections,
 * maxConnectionsPerIp, TLS listeners, PROXY protocol): the optional `-ERR`
 * line, a FIN, and a destroyed socket within REFUSAL_LINGER_MS whatever the
 * peer does. `socket.end()` alone is not enough: with allowHalfOpen, a socket
 * whose peer sent bytes first (and never reads or closes) is never destroyed,
 * one descriptor leaked per refusal.
 */
import type { Socket } from 'node:net';

/** How long a refused socket may live to deliver its `-ERR` line, in milliseconds. 2 s. */
const REFUSAL_LINGER_MS = 2_000;

/** Writes `line` (if any), ends the socket and destroys it when the line is sent, or after REFUSAL_LINGER_MS. */
export function refuseConnection(socket: Socket, line?: string): void {
  socket.on('error', () => undefined);
  if (line === undefined) {
    socket.destroy();
    return;
  }
  // What the peer sent is read and dropped: unread input would keep the socket
  // from ever seeing the peer's FIN, and a reset sent because of it could
  // discard the -ERR line before the peer reads it.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // 'finish': the line and the FIN are with the kernel, which delivers them
  // after close; nothing more to wait for.
  socket.end(line, () => socket.destroy());
}
