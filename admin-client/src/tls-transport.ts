/**
 * The admin API over the daemon's --admin-listen: TLS 1.3 only, the daemon's
 * certificate checked against the given CA and the host, and our client
 * certificate presented. Connections are kept alive between requests, so a
 * run of applies pays for one handshake.
 */
import { Agent, request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { AdminServerUntrustedError, AdminTargetError, AdminTlsRejectedError, DaemonUnreachableError } from './errors';
import { httpExchange, type AdminResponse, type Exchange } from './http-exchange';
import { parseHttpsUrl, type TlsTarget } from './target';
import type { Transport } from './transport';

/** The client's verdicts on the daemon's certificate (OpenSSL's names, as Node reports them). */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NETWORK = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'ENOTFOUND']);

export function tlsTransport(target: TlsTarget, timeoutMs: number): Transport {
  const { host, port } = parseHttpsUrl(target.url);
  const where = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const material = { ca: target.caPem, cert: target.certPem, key: target.keyPem };
  try {
    createSecureContext(material);
  } catch (error) {
    throw new AdminTargetError(
      where,
      `the TLS material for ${where} cannot be used (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ` +
        'give PEM files: the CA, the client certificate and its matching key',
    );
  }
  const agent = new Agent({ ...material, keepAlive: true, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  const classify = (error: NodeJS.ErrnoException, reused: boolean): Error => {
    const code = error.code ?? '';
    if (UNTRUSTED.has(code)) return new AdminServerUntrustedError(where, code, error.message);
    // TLS 1.3: the daemon judges our certificate after the client's side of the handshake, so
    // its refusal arrives as an alert, or (our request already sent) a reset, on a new connection.
    if (/^ERR_SSL_.*ALERT/.test(code) || (code === 'ECONNRESET' && !reused))
      return new AdminTlsRejectedError(where, code);
    if (code === 'ECONNRESET')
      return new DaemonUnreachableError(where, error, false, 'the kept-alive connection was reset: retry');
    if (NETWORK.has(code)) return new DaemonUnreachableError(where, error, false);
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO')
      return new DaemonUnreachableError(
        where,
        error,
        false,
        `no TLS 1.3 there (${code}): is this pop3d's --admin-listen?`,
      );
    return error;
  };
  return {
    request: (exchange: Exchange): Promise<AdminResponse> =>
      httpExchange({ host, port, agent }, exchange, where, timeoutMs, classify, request),
    close: () => agent.destroy(),
  };
}
