/** What each way of reaching the daemon provides to the client. */
import type { AdminResponse, Exchange } from './http-exchange';

export interface Transport {
  request(exchange: Exchange): Promise<AdminResponse>;
  /** Ends what the transport keeps open (TLS connections, the SSH session). */
  close(): void;
}
