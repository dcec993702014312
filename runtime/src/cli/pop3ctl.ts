/**
 * pop3ctl: the admin API from the shell. Readable output by default, `--json`
 * for scripts, and exit codes a pipeline can branch on (see EXIT).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { listenerKey, type FieldChange, type ListenerPlan } from '@pop3-iac/schema';
import { describeOwner, NO_OWNER, OWNER_HEADER, ownerChangeOf, type Owner } from '../admin/owner';
import {
  AdminClient,
  AdminTargetError,
  AdminTransportError,
  targetFromUrl,
  type AdminResponse,
  type AdminTarget,
  type StatusAnswer,
  type TargetMaterial,
  type ValidateAnswer,
} from '@pop3-iac/admin-client';
import { addUser, hashPassword } from '../users';
import { FileError, valueOptions, flagList, givenFlags, readFlagFile } from './file-flags';
import { uidlCheckCommand } from './uidl-check-command';

/** Exit codes, documented in runtime/README.md. */
export const EXIT = {
  ok: 0,
  /** `diff` only: the file differs from the running configuration. */
  differs: 1,
  usage: 2,
  invalid: 3,
  conflict: 4,
  applyFailed: 5,
  unreachable: 6,
  error: 7,
} as const;

const USAGE = `usage: pop3ctl [--socket <path> | --admin <target>] [--json] <command>

  --admin unix:///path/to/admin.sock       the same as --socket
  --admin https://host:port                pop3d's --admin-listen, with
          --tls-ca <file> --tls-cert <file> --tls-key <file>
  --admin ssh://user@host[:port]/path/to/admin.sock
          --ssh-key <file> --ssh-known-hosts <file>   (the host key is required)

  get                 the running configuration (canonical; keys shown as fingerprints)
  status              listeners, sessions, counters, version, uptime
  validate <file>     check a configuration and print the plan, without applying it
  diff <file>         the fields <file> would change (exit 1 when it differs)
  apply <file>        print the plan, then apply it (only if nothing changed meanwhile);
                      the configuration keeps its owner (a Pulumi resource, say) unless
                      --take-over, which leaves it owned by nobody
  hash                read a password on stdin, print a {SHA512-CRYPT} hash for a passwd-file
  user add <passwd-file> <name>
                      read a password on stdin, add or replace the user's line
  uidl-check <maildir-root> [user...] [--uidl maildir|dovecot] [--uidl-format <fmt>]
             [--dovecot-format <fmt>]
                      the messages whose UIDL pop3d would give differently from Dovecot
                      (from dovecot-uidlist; exit 1 when some differ); read only

The socket defaults to $POP3D_ADMIN_SOCKET. Exit codes: 0 ok, 1 differs (diff),
2 usage, 3 invalid configuration, 4 conflict (changed meanwhile), 5 apply failed
and rolled back, 6 daemon unreachable (also: TLS handshake refused, wrong SSH host
key, SSH login refused, permission), 7 other error.`;

/** Which file option holds each piece of a target's material. */
const MATERIAL_FLAGS = {
  'tls-ca': 'caPem',
  'tls-cert': 'certPem',
  'tls-key': 'keyPem',
  'ssh-key': 'privateKey',
  'ssh-known-hosts': 'hostKey',
} as const satisfies Record<string, keyof TargetMaterial>;
const MATERIAL_FILE_FLAGS = Object.keys(MATERIAL_FLAGS) as Array<keyof typeof MATERIAL_FLAGS>;

export interface Context {
  client: AdminClient;
  json: boolean;
  takeOver: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function main(
  argv = process.argv.slice(2),
  io = { out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t) },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        socket: { type: 'string' },
        admin: { type: 'string' },
        ...valueOptions(MATERIAL_FILE_FLAGS),
        json: { type: 'boolean' },
        'if-match': { type: 'string' },
        'take-over': { type: 'boolean' },
        uidl: { type: 'string' },
        'uidl-format': { type: 'string' },
        'dovecot-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    io.err(`pop3ctl: ${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    io.err(`${USAGE}\n`);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const json = values.json ?? false;
  const takeOver = values['take-over'] ?? false;
  let client: AdminClient | undefined;
  try {
    if (command === 'hash') return await hashCommand(io);
    if (command === 'user') return await userCommand(io, args);
    if (command === 'uidl-check') return await uidlCheckCommand({ json, ...io }, args, values);
    const handler = DAEMON_COMMANDS[command];
    if (!handler) {
      io.err(`pop3ctl: unknown command "${command}"\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (values.socket !== undefined && values.admin !== undefined) {
      io.err('pop3ctl: give --socket or --admin, not both\n');
      return EXIT.usage;
    }
    const target = await targetOf(values);
    if (target === undefined) {
      io.err('pop3ctl: give --socket <path> or --admin <target> (or set POP3D_ADMIN_SOCKET)\n');
      return EXIT.usage;
    }
    if (handler.takesFile !== (args.length === 1) || args.length > 1) {
      io.err(`pop3ctl: ${command} ${handler.takesFile ? 'takes one file' : 'takes no argument'}\n`);
      return EXIT.usage;
    }
    client = new AdminClient(target);
    return await handler.run({ client, json, takeOver, ...io }, args[0] ?? '', values['if-match']);
  } catch (error) {
    if (error instanceof AdminTargetError) {
      io.err(`pop3ctl: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof AdminTransportError) {
      io.err(`pop3ctl: ${error.message}\n`);
      return EXIT.unreachable;
    }
    if (error instanceof FileError) {
      io.err(`pop3ctl: ${error.message}\n`);
      return EXIT.usage;
    }
    io.err(`pop3ctl: ${(error as Error).message}\n`);
    return EXIT.error;
  } finally {
    client?.close();
  }
}

/** The daemon to talk to, from --admin (with its files), --socket or $POP3D_ADMIN_SOCKET. */
async function targetOf(values: Record<string, string | boolean | undefined>): Promise<AdminTarget | undefined> {
  const admin = values.admin as string | undefined;
  const given = givenFlags(values, MATERIAL_FILE_FLAGS);
  if (admin === undefined) {
    if (given.length > 0) throw new FileError(`${flagList(given)} need --admin`);
    const socket = (values.socket as string | undefined) ?? process.env.POP3D_ADMIN_SOCKET ?? '';
    return socket === '' ? undefined : { socket };
  }
  const material: TargetMaterial = {};
  for (const flag of given) material[MATERIAL_FLAGS[flag]] = await readFlagFile(flag, values[flag] as string);
  return targetFromUrl(admin, material);
}

async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FileError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FileError(`${path} is not JSON: ${(error as Error).message}`);
  }
}

interface ErrorBody {
  code?: string;
  message?: string;
  issues?: Array<{ path: string; message: string }>;
}

/** Prints a daemon error and maps its code to an exit code. */
function failure(context: Context, command: string, response: AdminResponse): number {
  const body = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as ErrorBody;
  if (context.json) context.out(`${JSON.stringify(response.body, null, 2)}\n`);
  else {
    context.err(`pop3ctl ${command}: ${body.message ?? `HTTP ${response.status}`}\n`);
    for (const issue of body.issues ?? []) context.err(`  ${issue.path}: ${issue.message}\n`);
  }
  switch (body.code) {
    case 'invalid_config':
    case 'bad_json':
      return EXIT.invalid;
    case 'precondition_failed':
      return EXIT.conflict;
    case 'apply_failed':
    case 'persist_failed':
      return EXIT.applyFailed;
    default:
      return EXIT.error;
  }
}

/** POST /v1/config/validate: the plan for `config`, or the exit code of its failure (reported as `command`'s). */
async function validate(context: Context, command: string, config: unknown): Promise<ValidateAnswer | number> {
  const response = await context.client.request('POST', '/v1/config/validate', config);
  return response.status === 200 ? (response.body as ValidateAnswer) : failure(context, command, response);
}

function describePlan(plan: ListenerPlan, changes: FieldChange[]): string {
  const lines: string[] = [];
  for (const listener of plan.open) lines.push(`  + open  ${listenerKey(listener)}`);
  for (const listener of plan.close) lines.push(`  - close ${listenerKey(listener)}`);
  for (const change of changes)
    lines.push(`  ~ ${change.path}: ${JSON.stringify(change.before)} -> ${JSON.stringify(change.after)}`);
  return lines.length === 0 ? '  (no changes)\n' : `${lines.join('\n')}\n`;
}

/** The owner a GET /v1/config answer names in its Pop3d-Owner header. */
function ownerOf(response: AdminResponse): Owner | null {
  const value = response.headers[OWNER_HEADER];
  if (typeof value !== 'string') return null;
  const change = ownerChangeOf(value);
  return change.kind === 'set' ? change.owner : null;
}

function describeOwnerWithClaim(owner: Owner | null): string {
  return owner === null ? 'nobody' : `${describeOwner(owner)} (claim ${owner.claim})`;
}

interface DaemonCommand {
  takesFile: boolean;
  run(context: Context, file: string, ifMatch?: string): Promise<number>;
}

/**
 * A command that has the daemon plan a configuration file without applying
 * it (`POST /v1/config/validate`): what it prints of the plan, and its exit
 * code (ok unless `exitOf` says otherwise).
 */
function planCommand(
  name: string,
  show: (file: string, outcome: ValidateAnswer, json: boolean) => string,
  exitOf: (outcome: ValidateAnswer) => number = () => EXIT.ok,
): DaemonCommand {
  return {
    takesFile: true,
    async run(context, file) {
      const outcome = await validate(context, name, await readConfigFile(file));
      if (typeof outcome === 'number') return outcome;
      context.out(show(file, outcome, context.json));
      return exitOf(outcome);
    },
  };
}

const DAEMON_COMMANDS: Record<string, DaemonCommand> = {
  get: {
    takesFile: false,
    async run(context) {
      const response = await context.client.request('GET', '/v1/config');
      if (response.status !== 200) return failure(context, 'get', response);
      const owner = ownerOf(response);
      if (context.json)
        context.out(`${JSON.stringify({ etag: response.headers.etag, owner, config: response.body }, null, 2)}\n`);
      else
        context.out(
          `# ETag: ${String(response.headers.etag)}\n# Owner: ${describeOwnerWithClaim(owner)}\n${JSON.stringify(response.body, null, 2)}\n`,
        );
      return EXIT.ok;
    },
  },
  status: {
    takesFile: false,
    async run(context) {
      const response = await context.client.request('GET', '/v1/status');
      if (response.status !== 200) return failure(context, 'status', response);
      if (context.json) {
        context.out(`${JSON.stringify(response.body, null, 2)}\n`);
        return EXIT.ok;
      }
      const status = response.body as StatusAnswer;
      const lines = [
        `pop3d ${status.version}, up ${status.uptimeSeconds}s, configuration generation ${status.generation}`,
        `instance ${status.instanceId}`,
        `owner: ${describeOwnerWithClaim(status.owner ?? null)}`,
        `sessions: ${status.sessions.connections} open (${status.sessions.transaction} logged in)`,
        'listeners:',
        ...status.listeners.map(
          (l) => `  ${listenerKey(l).padEnd(32)} ${l.state}  accepted ${l.accepted}  refused ${l.refused}`,
        ),
        ...(status.listeners.length === 0 ? ['  (none)'] : []),
        ...Object.entries(status.counters.refusedByRule).map(([rule, n]) => `refused by ${rule}: ${n}`),
        ...(status.adminListen
          ? [
              `admin listener ${status.adminListen.address}:${status.adminListen.port}: ` +
                `${status.counters.adminHandshakeFailures} handshakes refused`,
            ]
          : []),
        ...status.recentApplies
          .slice(-3)
          .map((a) => `apply ${a.at} by ${a.by}: ${a.result} (generation ${a.generation})`),
      ];
      context.out(`${lines.join('\n')}\n`);
      return EXIT.ok;
    },
  },
  validate: planCommand('validate', (file, outcome, json) =>
    json
      ? `${JSON.stringify(outcome, null, 2)}\n`
      : `${file} is valid; applying it would:\n${describePlan(outcome.plan, outcome.changes)}`,
  ),
  diff: planCommand(
    'diff',
    (_file, outcome, json) =>
      json ? `${JSON.stringify(outcome.changes, null, 2)}\n` : describePlan(outcome.plan, outcome.changes),
    (outcome) => (outcome.changes.length === 0 ? EXIT.ok : EXIT.differs),
  ),
  apply: {
    takesFile: true,
    async run(context, file, ifMatch) {
      const config = await readConfigFile(file);
      // Plan against a known version, then apply only if that version still runs.
      const current = await context.client.request('GET', '/v1/config');
      if (current.status !== 200) return failure(context, 'apply', current);
      const etag = ifMatch ?? String(current.headers.etag);
      const plan = await validate(context, 'apply', config);
      if (typeof plan === 'number') return plan;
      if (!context.json) context.out(`plan:\n${describePlan(plan.plan, plan.changes)}`);
      // A hand apply is drift from whoever owns the configuration: it keeps their claim unless told otherwise.
      const owner = ownerOf(current);
      const headers: Record<string, string> = { 'If-Match': etag };
      if (context.takeOver) headers[OWNER_HEADER] = NO_OWNER;
      const applied = await context.client.request('PUT', '/v1/config', config, headers);
      if (applied.status !== 200) return failure(context, 'apply', applied);
      if (owner !== null && !context.json)
        context.err(
          context.takeOver
            ? `pop3ctl apply: took the configuration over from ${describeOwner(owner)}; nobody owns it now\n`
            : `pop3ctl apply: the configuration stays owned by ${describeOwner(owner)}: this is drift that its next ` +
                'update puts back (--take-over to leave it owned by nobody)\n',
        );
      const outcome = applied.body as { applied: boolean; generation: number; etag: string };
      context.out(
        context.json
          ? `${JSON.stringify(applied.body, null, 2)}\n`
          : outcome.applied
            ? `applied: generation ${outcome.generation}, ETag ${outcome.etag}\n`
            : `unchanged: the running configuration is already this one (generation ${outcome.generation})\n`,
      );
      return EXIT.ok;
    },
  },
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

type Io = Pick<Context, 'out' | 'err'>;

async function hashCommand(context: Io): Promise<number> {
  const password = await readStdin();
  if (password === '') {
    context.err('pop3ctl hash: give the password on standard input\n');
    return EXIT.usage;
  }
  context.out(`${hashPassword(password)}\n`);
  return EXIT.ok;
}

async function userCommand(context: Io, args: string[]): Promise<number> {
  const [sub, file, name] = args;
  if (sub !== 'add' || file === undefined || name === undefined || args.length !== 3) {
    context.err('usage: pop3ctl user add <passwd-file> <name>   (password on standard input)\n');
    return EXIT.usage;
  }
  const password = await readStdin();
  if (password === '') {
    context.err('pop3ctl user add: give the password on standard input\n');
    return EXIT.usage;
  }
  await addUser(file, name, password);
  context.out(`user ${name} written to ${file}\n`);
  return EXIT.ok;
}
