// One plain POP3 listener, on the pop3d that `npm start` runs (loopback, port
// 1110). Applying it also turns off the demo's POP3S listener and STARTTLS:
// the program, not the daemon's start-up file, now owns the configuration.
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { Pop3Service } from '@pop3-iac/provider';

const config = new pulumi.Config();
// Where `npm start` puts the demo daemon's admin socket (runtime/src/demo).
const demoSocket = join(
  process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'),
  'pop3d-demo',
  'state',
  'admin.sock',
);

const service = new Pop3Service('pop3', {
  adminSocket: config.get('adminSocket') ?? demoSocket,
  binds: `127.0.0.1 ${config.getNumber('port') ?? 1110}`,
});

export const listeners = service.listeners;
export const generation = service.generation;
