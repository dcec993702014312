/**
 * Reads the PROXY protocol header off a freshly accepted socket, with a
 * deadline, and hands the socket back positioned just after it: bytes that
 * came with the header (a TLS ClientHello, a pipelined command) are put back
 * into the socket's buffer, so the TLS layer or the POP3 session reads them
 * as if no header had been there.
 *
 * The socket is read in paused mode ('readable' + read()), never flowing:
 * once this listener is gone the stream is neither flowing nor paused, so the
 * next reader (the session's 'data' listener, or TLSSocket, which drains a
 * socket's buffered bytes when it wraps it) starts it as usual.
 */
import type { Socket } from 'node:net';
import { ProxyHeaderParser, type ProxyHeader, type ProxyHeaderProblem } from './proxy-protocol';

export type ProxyReadOutcome =
  | { ok: true; header: ProxyHeader }
  /** `timeout`: no complete header within the deadline; `closed`: the peer ended or reset first. */
  | { ok: false; problem: ProxyHeaderProblem | 'timeout' | 'closed' };

export function readProxyHeader(socket: Socket, timeoutMs: number, done: (outcome: ProxyReadOutcome) => void): void {
  const parser = new ProxyHeaderParser();
  let finished = false;
  const finish = (outcome: ProxyReadOutcome) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('end', onClosed);
    socket.off('close', onClosed);
    done(outcome);
  };
  const onClosed = () => finish({ ok: false, problem: 'closed' });
  const onReadable = () => {
    let chunk: Buffer | null;
    while (!finished && (chunk = socket.read() as Buffer | null) !== null) {
      const step = parser.push(chunk);
      if (step.kind === 'more') continue;
      if (step.kind === 'invalid') return finish({ ok: false, problem: step.problem });
      if (step.rest.length > 0) socket.unshift(step.rest);
      return finish({ ok: true, header: step.header });
    }
  };
  const timer = setTimeout(() => finish({ ok: false, problem: 'timeout' }), timeoutMs);
  // A reset before the header must not reach the process; later owners add their own handlers.
  socket.on('error', () => undefined);
  socket.on('readable', onReadable);
  socket.once('end', onClosed);
  socket.once('close', onClosed);
}
