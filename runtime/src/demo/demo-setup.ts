/**
 * The embedded default that `npm start` runs: everything a first-time user
 * needs, made on first start in a directory of their own, no root, no file to
 * edit. Loopback only, unprivileged ports, a self-signed certificate, a demo
 * user and a Maildir with a few messages.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate } from '../tls/self-signed';

const DEMO_USER = 'demo';
const DEMO_PASSWORD = 'demo';
/** The demo's ports; POP3D_DEMO_PORT and POP3D_DEMO_SSL_PORT move them when 1110 or 1995 is taken. */
const DEMO_PORT = Number(process.env.POP3D_DEMO_PORT ?? 1110);
const DEMO_SSL_PORT = Number(process.env.POP3D_DEMO_SSL_PORT ?? 1995);
const DEMO_HOST = '127.0.0.1';

export interface DemoPaths {
  root: string;
  config: string;
  users: string;
  maildirRoot: string;
  stateDir: string;
  adminSocket: string;
  certFile: string;
  keyFile: string;
}

function demoRoot(): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'pop3d-demo');
}

export function demoPaths(root = demoRoot()): DemoPaths {
  return {
    root,
    config: join(root, 'pop3d.json'),
    users: join(root, 'users'),
    maildirRoot: join(root, 'mail'),
    stateDir: join(root, 'state'),
    adminSocket: join(root, 'state', 'admin.sock'),
    certFile: join(root, 'tls', 'cert.pem'),
    keyFile: join(root, 'tls', 'key.pem'),
  };
}

const MESSAGES = [
  ['Welcome to pop3d', 'This mailbox is served from a Maildir.\nDelete me with DELE 1 and QUIT.'],
  [
    'Your configuration is code',
    'Change binds, TLS and access rules with pop3ctl or Pulumi;\nsessions stay open while you do.',
  ],
  ['A line that starts with a dot', 'The next line is dot-stuffed on the wire:\n.like this one\n'],
];

/** Creates whatever of the demo is missing; never overwrites what the user changed. */
export async function ensureDemo(root = demoRoot()): Promise<DemoPaths> {
  const paths = demoPaths(root);
  await mkdir(join(root, 'tls'), { recursive: true, mode: 0o700 });
  if (!existsSync(paths.certFile) || !existsSync(paths.keyFile)) {
    generateSelfSignedCertificate(join(root, 'tls'));
  }
  if (!existsSync(paths.config)) {
    const config = {
      binds: `${DEMO_HOST} ${DEMO_PORT}`,
      ssl: { enabled: true, binds: `${DEMO_HOST} ${DEMO_SSL_PORT}` },
      starttls: true,
      tls: { certFile: paths.certFile, keyFile: paths.keyFile },
    };
    await writeFile(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  }
  if (!existsSync(paths.users)) {
    await writeFile(
      paths.users,
      `# user:{SCHEME}password, as Dovecot's passwd-file\n${DEMO_USER}:{PLAIN}${DEMO_PASSWORD}\n`,
      { mode: 0o600 },
    );
  }
  const maildir = join(paths.maildirRoot, DEMO_USER, 'Maildir');
  if (!existsSync(maildir)) {
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(maildir, sub), { recursive: true, mode: 0o700 });
    const now = Math.floor(Date.now() / 1000);
    await Promise.all(
      MESSAGES.map(([subject, body], i) =>
        writeFile(
          join(maildir, 'new', `${now + i}.M${i}P${process.pid}.demo`),
          `From: pop3d <postmaster@localhost>\nTo: ${DEMO_USER}@localhost\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <demo-${now}-${i}@localhost>\n\n${body}\n`,
        ),
      ),
    );
  }
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  return paths;
}

/** The lines printed after start: each command works as printed. */
export function demoInstructions(paths: DemoPaths): string {
  const auth = `-u ${DEMO_USER}:${DEMO_PASSWORD}`;
  return [
    '',
    `pop3d demo is running (user "${DEMO_USER}", password "${DEMO_PASSWORD}"; files in ${paths.root})`,
    '',
    `  list:        curl ${auth} pop3://${DEMO_HOST}:${DEMO_PORT}/`,
    `  retrieve:    curl ${auth} pop3://${DEMO_HOST}:${DEMO_PORT}/1`,
    `  STLS:        curl --ssl-reqd --cacert ${paths.certFile} ${auth} pop3://localhost:${DEMO_PORT}/1`,
    `  POP3S:       curl --cacert ${paths.certFile} ${auth} pop3s://localhost:${DEMO_SSL_PORT}/`,
    `  by hand:     openssl s_client -quiet -starttls pop3 -connect ${DEMO_HOST}:${DEMO_PORT}   (then: USER demo, PASS demo, LIST, QUIT)`,
    `  admin API:   curl --unix-socket ${paths.adminSocket} http://localhost/v1/status`,
    `  pop3ctl:     npx pop3ctl --socket ${paths.adminSocket} get`,
    '',
    'Stop with Ctrl-C (sessions get a moment to QUIT).',
    '',
  ].join('\n');
}
