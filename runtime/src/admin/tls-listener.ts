/**
 * The admin API over TCP (--admin-listen): TLS 1.3 only, and a client
 * certificate required, issued by --admin-client-ca (may read and apply) or
 * --admin-reader-ca (may only read). A handshake without one, or with one
 * from another CA, fails before any HTTP and is counted. Connections that
 * pass are handed to the same HTTP server as the Unix socket, so routes,
 * bodies and codes are the same.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from '../log';
import type { ListenAddress } from '../net/listen-address';
import { UNIX_IDENTITY, type AdminIdentity } from './apply-history';

/** How long a client may take to finish its TLS handshake, in milliseconds. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface AdminTlsOptions {
  /** `address:port` (`[::1]:7443` for IPv6). */
  listen: ListenAddress;
  certPem: string;
  keyPem: string;
  /** PEM bundle: certificates these CAs issued may read and apply. */
  clientCaPem: string;
  /** PEM bundle: certificates these CAs issued may only read. */
  readerCaPem?: string;
}

export class AdminTlsListener {
  /** Handshakes refused: no client certificate, one from another CA, or not TLS 1.3. */
  handshakeFailures = 0;
  private readonly server: TlsServer;
  private readonly identities = new WeakMap<TLSSocket, AdminIdentity>();
  private readonly appliers: X509Certificate[];
  private readonly readers: X509Certificate[];

  constructor(
    private readonly options: AdminTlsOptions,
    api: HttpServer,
    private readonly log: Logger,
  ) {
    this.appliers = certificatesIn(options.clientCaPem, '--admin-client-ca');
    this.readers = options.readerCaPem === undefined ? [] : certificatesIn(options.readerCaPem, '--admin-reader-ca');
    this.server = createServer(
      {
        cert: options.certPem,
        key: options.keyPem,
        ca: [options.clientCaPem, ...(options.readerCaPem === undefined ? [] : [options.readerCaPem])],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      },
      (socket) => {
        this.identities.set(socket, this.identify(socket));
        api.emit('connection', socket);
      },
    );
    this.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
      this.handshakeFailures += 1;
      this.log.warn('admin.tls_handshake_failed', {
        peer: socket.remoteAddress,
        reason: error.code ?? error.message,
      });
    });
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.listen.port, this.options.listen.host, () => {
        this.server.off('error', reject);
        const { address, port } = this.server.address() as { address: string; port: number };
        resolve({ address, port });
      });
    });
  }

  close(): void {
    this.server.close();
  }

  /** The caller of a request: its certificate's identity on this listener, `unix` on the socket. */
  identityOf(request: IncomingMessage): AdminIdentity {
    return request.socket instanceof TLSSocket
      ? (this.identities.get(request.socket) ?? { by: 'unknown', mayApply: false })
      : UNIX_IDENTITY;
  }

  private identify(socket: TLSSocket): AdminIdentity {
    const peer = socket.getPeerX509Certificate();
    if (!peer) return { by: 'unknown', mayApply: false };
    const issuedBy = (cas: X509Certificate[]) => cas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
    // A certificate both CAs could have issued only reads: the narrower grant wins.
    const mayApply = issuedBy(this.appliers) && !issuedBy(this.readers);
    return { by: peer.subject.split('\n').join(', '), fingerprint: peer.fingerprint256, mayApply };
  }
}

/** Every certificate in a PEM bundle, or an error naming the flag. */
function certificatesIn(pem: string, flag: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${flag} holds no PEM certificate`);
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (error) {
    throw new Error(`${flag}: a certificate cannot be read (${(error as Error).message})`);
  }
}
