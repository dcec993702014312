/**
 * The Node floor: a server that answers scenario a's and d's exchange
 * (greeting, USER, PASS, STAT, RETR 1 of a 4 KB message, QUIT; POP3S with
 * the same RSA-2048 certificate) with canned replies: no user database, no
 * Maildir, no lock, no log. Its CPU per session is what Node.js and the
 * kernel cost for the same system calls on this machine, a floor under any
 * server written for Node, pop3d included. The table puts it beside Dovecot
 * so that a CPU target can be read against it: a target below the floor's
 * own ratio cannot be met by any work inside pop3d.
 *
 * Run as a program (`node node-floor.js <port> <sslPort> <certFile> <keyFile>`)
 * it is the server; imported, NodeFloor starts and stops that program.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ServerProcess, type ServerSetup } from './server-process';
import { asUser, start } from './system';

/** How long the floor may take to say it listens, ms. */
const READY_TIMEOUT_MS = 10_000;
/** The size scenario a's message has in pop3d's replies (4096 octets stored, CRLF line ends). */
const MESSAGE_OCTETS = 4224;

/** The program: both listeners, canned replies. */
function serve(port: number, sslPort: number, certFile: string, keyFile: string): void {
  const body = Buffer.alloc(MESSAGE_OCTETS, 'x');
  for (let i = 76; i < MESSAGE_OCTETS; i += 78) body.write('\r\n', i - 2, 'latin1');
  body.write('\r\n', MESSAGE_OCTETS - 2, 'latin1');
  const retr = Buffer.concat([Buffer.from(`+OK ${MESSAGE_OCTETS} octets\r\n`), body, Buffer.from('.\r\n')]);
  const session = (socket: net.Socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.write('+OK floor ready\r\n');
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n'); end !== -1; end = pending.indexOf('\r\n')) {
        const verb = pending.slice(0, 4).toUpperCase();
        pending = pending.slice(end + 2);
        if (verb === 'USER' || verb === 'PASS') socket.write('+OK\r\n');
        else if (verb === 'STAT') socket.write(`+OK 1 ${MESSAGE_OCTETS}\r\n`);
        else if (verb === 'RETR') socket.write(retr);
        else if (verb === 'QUIT') socket.end('+OK bye\r\n');
        else socket.write('-ERR not in the floor\r\n');
      }
    });
  };
  const context = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  let listening = 0;
  const ready = () => {
    if (++listening === 2) process.stdout.write('ready\n');
  };
  net.createServer(session).listen(port, '127.0.0.1', ready);
  tls.createServer(context, session).listen(sslPort, '127.0.0.1', ready);
  process.on('SIGTERM', () => process.exit(0));
}

export class NodeFloor extends ServerProcess {
  constructor(private readonly options: ServerSetup) {
    super('the Node floor', 5_000);
  }

  async start(): Promise<void> {
    const o = this.options;
    const argv = [process.execPath, __filename, String(o.port), String(o.sslPort), o.certFile, o.keyFile];
    const [file, ...args] = asUser(argv, o.nofile, o.account);
    const child = (await start(file!, args, { stdout: 'pipe', stderr: 'pipe' })).child;
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the Node floor did not start')), READY_TIMEOUT_MS);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(`node floor: ${d.toString()}`));
    });
  }
}

if (require.main === module) {
  const [port, sslPort, certFile, keyFile] = process.argv.slice(2);
  serve(Number(port), Number(sslPort), certFile!, keyFile!);
}
