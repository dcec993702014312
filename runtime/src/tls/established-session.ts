/**
 * What holds for a TLS session once its handshake is done, POP3S and STLS
 * alike: no renegotiation, and a fatal TLS error ends the connection.
 *
 * Node's own renegotiation limit (and any TLS error after the handshake, such
 * as a bad record MAC) never reaches a standalone `TLSSocket`'s 'error'
 * event: `_tlsError()` emits it as the internal '_tlsError' and only
 * `tls.Server` (by `_releaseControl()`) turns it into 'error'. pop3d wraps
 * accepted sockets itself (connection control runs before TLS), so it
 * listens there. The context also carries SSL_OP_NO_RENEGOTIATION
 * (tls-context.ts), so OpenSSL refuses a renegotiation's ClientHello
 * before any handshake work.
 */
import type { TLSSocket } from 'node:tls';

/** Disables renegotiation on `socket` and calls `onFatal` once (then destroys it) on a TLS error after the handshake. */
export function guardEstablishedTls(socket: TLSSocket, onFatal: (error: Error) => void): void {
  socket.disableRenegotiation();
  let ended = false;
  const fatal = (error: Error): void => {
    if (ended) return;
    ended = true;
    onFatal(error);
    socket.destroy();
  };
  socket.on('_tlsError', fatal);
  // Should a renegotiation still complete, the second 'secure' is the end of the session too.
  socket.on('secure', () => fatal(new Error('TLS renegotiation is not allowed')));
}
