// The seed document's example, "192.168.0.1 110, 192.168.0.2 110, 192.168.0.3
// 115", moved to loopback addresses and unprivileged ports, with implicit TLS
// on two of the addresses, STARTTLS on the plain ones, an inline certificate
// whose key stays a Pulumi secret, and connection control.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { Pop3Service } from '@pop3-iac/provider';

const config = new pulumi.Config();
// The demo daemon of `npm start` (runtime/src/demo): its admin socket and certificate.
const demo = join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'pop3d-demo');
const port = config.getNumber('port') ?? 1110;
const thirdPort = config.getNumber('thirdPort') ?? 1115;
const sslPort = config.getNumber('sslPort') ?? 1995;

const service = new Pop3Service('pop3', {
  adminSocket: config.get('adminSocket') ?? join(demo, 'state', 'admin.sock'),
  // The seed's text form: two addresses on `port`, the third on its own port.
  binds: `127.0.0.1, 127.0.0.2, 127.0.0.3 ${thirdPort}`,
  port,
  ssl: { enabled: true, binds: '127.0.0.1, 127.0.0.2', port: sslPort },
  starttls: true,
  tls: {
    certPem: readFileSync(config.get('certFile') ?? join(demo, 'tls', 'cert.pem'), 'utf8'),
    // Read on this machine and sent inline; Pop3Service keeps it secret in the state.
    keyPem: pulumi.secret(readFileSync(config.get('keyFile') ?? join(demo, 'tls', 'key.pem'), 'utf8')),
  },
  // Loopback only (the seed's "192.168.0.*"), and never the address a test client uses for abuse.
  permit: ['127.0.0.0/8', '::1'],
  deny: ['127.0.0.66'],
});

export const listeners = service.listeners;
export const keyFingerprint = service.tls.apply((tls) =>
  tls && 'keyFingerprint' in tls ? tls.keyFingerprint : undefined,
);
