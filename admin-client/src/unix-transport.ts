/** The admin API over the daemon's Unix socket on this machine. */
import { DaemonUnreachableError } from './errors';
import { httpExchange, type AdminResponse, type Exchange } from './http-exchange';
import type { Transport } from './transport';

/** Connection errors that mean "no daemon answers at this path" (EACCES: the socket is not ours). */
const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK']);

export function unixTransport(socketPath: string, timeoutMs: number): Transport {
  return {
    request: (exchange: Exchange): Promise<AdminResponse> =>
      httpExchange({ socketPath }, exchange, socketPath, timeoutMs, (error) =>
        UNREACHABLE_CODES.has(error.code ?? '') ? new DaemonUnreachableError(socketPath, error) : error,
      ),
    close: () => undefined,
  };
}
