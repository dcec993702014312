/**
 * The one way a TCP connection becomes a TLS session, for POP3S (RFC 8314:
 * at accept) and for STLS (RFC 2595: after its +OK), as smtp-server's
 * upgrade() serves both: one handshake, one timeout, one set of counters (the
 * status counters and the metrics), and the same guard once it is done
 * (established-session.ts).
 *
 * A handshake that does not finish is a failure whatever stopped it: an
 * error (not TLS, a refused version), the timeout, or the client leaving.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Limits } from '@pop3-iac/schema';
import type { Logger } from '../log';
import type { DaemonMetrics } from '../observability/metrics';
import { guardEstablishedTls } from './established-session';

/**
 * Longest a handshake may take, or limits.authTimeoutSeconds when shorter
 * (the handshake is part of what comes before a login). 30 s.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;

/** The status counters (GET /v1/status `counters`) this path keeps. */
export interface TlsCounters {
  tlsHandshakeFailures: number;
  tlsHandshakeTimeouts: number;
  tlsSessionErrors: number;
}

/** Where every handshake is counted: the server's status counters and its metrics. */
export interface TlsCounting {
  counters: TlsCounters;
  metrics: DaemonMetrics;
}

export interface TlsUpgrade {
  /** None (no certificate loaded) fails the handshake. */
  context: SecureContext | undefined;
  limits: Pick<Limits, 'authTimeoutSeconds'>;
  /** In the log lines, beside the fields `log` adds (the peer, the listener). */
  mode: 'pop3s' | 'stls';
  log: Logger;
  /** The handshake is done; the session runs on `secure` from here. Not called when it fails. */
  onSecure(secure: TLSSocket): void;
}

/** The timeout both kinds of handshake get under these limits. */
function handshakeTimeoutMs(limits: Pick<Limits, 'authTimeoutSeconds'>): number {
  return Math.min(TLS_HANDSHAKE_TIMEOUT_MS, limits.authTimeoutSeconds * 1000);
}

/**
 * Starts the server side of a handshake on `plain` and returns the TLS socket
 * (to listen on for 'close': it closes when the handshake fails, and when the
 * session ends). A failed handshake is counted, logged and destroyed here.
 */
export function upgradeToTls(plain: Socket, counting: TlsCounting, upgrade: TlsUpgrade): TLSSocket {
  const { counters, metrics } = counting;
  const { log, mode } = upgrade;
  const secure = new TLSSocket(plain, { isServer: true, secureContext: upgrade.context });
  const timeoutMs = handshakeTimeoutMs(upgrade.limits);
  let settled = false;
  const fail = (reason: string, timedOut: boolean): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    counters.tlsHandshakeFailures += 1;
    if (timedOut) counters.tlsHandshakeTimeouts += 1;
    metrics.tlsHandshakeFailed();
    if (timedOut) log.info('tls.handshake_timeout', { mode, timeoutMs });
    else log.info('tls.handshake_failed', { mode, reason });
    secure.destroy();
  };
  const timer = setTimeout(() => fail(`no TLS handshake within ${timeoutMs} ms`, true), timeoutMs);
  const onError = (error: Error): void => fail(error.message, false);
  const onClose = (): void => fail('the connection closed during the handshake', false);
  secure.on('error', onError);
  secure.once('close', onClose);
  secure.once('secure', () => {
    settled = true;
    clearTimeout(timer);
    secure.off('error', onError);
    secure.off('close', onClose);
    guardEstablishedTls(secure, (error) => {
      counters.tlsSessionErrors += 1;
      log.info('tls.session_error', { mode, reason: error.message });
    });
    metrics.tlsHandshakeSucceeded(secure.getProtocol());
    upgrade.onSecure(secure);
  });
  return secure;
}
