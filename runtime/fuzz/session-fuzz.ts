/**
 * Property-based fuzzing of the POP3 command parser and session state
 * machine, against a running pop3d: random command sequences (valid verbs
 * with good and bad arguments, raw bytes with NUL, CR and 8-bit octets,
 * overlong lines), sent as one byte stream split at random points.
 *
 * The property, for every case:
 *   - every line sent gets exactly one reply, in order, until the server
 *     closes after a reply that closes (QUIT, too many bad commands);
 *   - every reply is RFC grammar: a status line `+OK ...` / `-ERR ...` (or
 *     `+ ` for a SASL continuation) of printable ASCII; a multi-line reply ends
 *     with `.`, is dot-stuffed, and a RETR body is exactly the message, with
 *     exactly the octet count announced;
 *   - afterwards the daemon is alive and greets a new connection.
 *
 * Shared by runtime/test/fuzz-pop3-session.test.ts (a few hundred cases) and
 * runtime/fuzz/run.ts (`npm run fuzz`, 10^5 cases).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Pop3Client } from '@pop3-iac/test-kit';

/**
 * Users the fuzzer logs in as; each case picks one, so a session of an earlier case that the
 * daemon is still closing rarely holds the lock (and when it does, `-ERR [IN-USE]` is grammar too).
 */
export const FUZZ_USERS: Record<string, string> = Object.fromEntries(
  Array.from({ length: 8 }, (_, i) => [`fz${i}`, `pw fz${i}`]),
);

/** The mailbox every fuzz user has: dots, bare LF, 8-bit and NUL octets, an empty file, no final newline. */
export const FUZZ_MESSAGES: readonly Buffer[] = [
  Buffer.from('Subject: one\r\nFrom: a@example.org\r\n\r\nHello.\r\n.starts with a dot\r\n..two dots\r\n.\r\n'),
  Buffer.from('Subject: bare lf\n\nline 1\nline 2\n.\nend'),
  Buffer.from([...Buffer.from('Subject: bytes\r\n\r\n'), 0x00, 0xff, 0xe9, 0x0d, 0x41, 0x0d, 0x0a, 0x2e, 0x0a]),
  Buffer.alloc(0),
];

/** File names in cur/, in delivery order (message n is FUZZ_MESSAGES[n-1]). */
const FILE_NAMES = FUZZ_MESSAGES.map((_, i) => `${1600000000 + i}.M${i}P1.fuzz:2,S`);

/** The daemon configuration the properties assume. */
export function fuzzConfig(port: number): Record<string, unknown> {
  return {
    binds: `127.0.0.1 ${port}`,
    limits: {
      maxLineLength: 512,
      maxBadCommands: 6,
      loginFailureDelayMs: 0,
      loginFailureDelayMaxMs: 0,
      maxConnectionsPerIp: 10000,
    },
  };
}

const MAX_LINE_LENGTH = 512;

/** The bytes a message is sent as: CRLF line endings, a final CRLF (see runtime/src/maildir/normalise.ts). */
export function asSent(content: Buffer): string {
  const text = content.toString('latin1');
  if (text === '') return '';
  let out = text.replace(/\r?\n/g, '\r\n');
  if (!out.endsWith('\r\n')) out += '\r\n';
  return out;
}

/** (Re)creates every fuzz user's mailbox as FUZZ_MESSAGES, whatever earlier cases deleted. */
export async function restoreMailbox(maildirRoot: string, user: string): Promise<void> {
  const dir = join(maildirRoot, user, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  await Promise.all(FUZZ_MESSAGES.map((content, i) => writeFile(join(dir, 'cur', FILE_NAMES[i]!), content)));
}

// ---------------------------------------------------------------------------
// Arbitraries

const VERBS = [
  'CAPA',
  'QUIT',
  'USER',
  'PASS',
  'AUTH',
  'STLS',
  'STAT',
  'LIST',
  'RETR',
  'DELE',
  'NOOP',
  'RSET',
  'TOP',
  'UIDL',
  'APOP',
  'XTND',
  'HELO',
  'GET',
  'PROXY',
];

/** Mixed case, as clients and attackers send it. */
const verbArb = fc
  .tuple(fc.constantFrom(...VERBS), fc.array(fc.boolean(), { minLength: 4, maxLength: 5 }))
  .map(([verb, lower]) => [...verb].map((c, i) => (lower[i] ? c.toLowerCase() : c)).join(''));

const argArb = fc.oneof(
  fc.integer({ min: 0, max: 6 }).map(String),
  fc.constantFrom('-1', '+1', '01', '1.0', '4294967296', '99999999999', '0x1', ''),
  fc.constantFrom('PLAIN', 'plain', 'LOGIN', '*', '=', 'AGZ6MABwdyBmejA=', 'AGZ6MABiYWQ='),
  fc.string({ maxLength: 12 }),
);

const numberArb = fc.integer({ min: 0, max: FUZZ_MESSAGES.length + 1 }).map(String);

/** Commands as a client sends them, with message numbers in and out of range. */
const wellFormedArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('STAT', 'LIST', 'UIDL', 'NOOP', 'RSET', 'CAPA', 'AUTH', 'QUIT'),
  fc.tuple(fc.constantFrom('RETR', 'DELE', 'LIST', 'UIDL'), numberArb).map(([verb, n]) => `${verb} ${n}`),
  fc.tuple(numberArb, fc.integer({ min: 0, max: 3 })).map(([n, lines]) => `TOP ${n} ${lines}`),
);

/** A command line without its line ending (never contains LF). */
const commandArb: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 3, arbitrary: wellFormedArb },
    {
      weight: 2,
      arbitrary: fc
        .tuple(verbArb, fc.array(argArb, { maxLength: 3 }), fc.constantFrom(' ', '  '))
        .map(([verb, args, sep]) => [verb, ...args].join(sep)),
    },
  )
  .map((text) => Buffer.from(text, 'latin1'))
  .filter((b) => !b.includes(0x0a));

const rawBytesArb: fc.Arbitrary<Buffer> = fc
  .uint8Array({ maxLength: 80 })
  .map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0a ? 0x00 : b))));

const overlongArb: fc.Arbitrary<Buffer> = fc
  .tuple(fc.integer({ min: MAX_LINE_LENGTH - 4, max: MAX_LINE_LENGTH * 6 }), fc.constantFrom('A', 'NOOP ', '\x00'))
  .map(([length, fill]) => Buffer.from(fill.repeat(Math.ceil(length / fill.length)).slice(0, length), 'latin1'));

export interface SessionCase {
  user: number;
  /** Log in first with USER/PASS or AUTH PLAIN, so that TRANSACTION is explored too. */
  login: 'none' | 'user-pass' | 'auth-plain' | 'wrong';
  lines: Array<{ content: Buffer; ending: '\r\n' | '\n' }>;
  /** Offsets at which the byte stream is cut into separate writes. */
  cuts: number[];
}

export const sessionCaseArb: fc.Arbitrary<SessionCase> = fc.record({
  user: fc.integer({ min: 0, max: Object.keys(FUZZ_USERS).length - 1 }),
  login: fc.constantFrom('none', 'user-pass', 'user-pass', 'auth-plain', 'wrong'),
  lines: fc.array(
    fc.record({
      content: fc.oneof(
        { weight: 6, arbitrary: commandArb },
        { weight: 2, arbitrary: rawBytesArb },
        { weight: 1, arbitrary: overlongArb },
      ),
      ending: fc.constantFrom('\r\n' as const, '\r\n' as const, '\n' as const),
    }),
    { minLength: 1, maxLength: 30 },
  ),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
});

// ---------------------------------------------------------------------------
// The model of what a reply must look like

const STATUS_RE = /^(\+OK|-ERR)( [\x20-\x7e]*)?$/;
const CLOSING_REPLY_RE = /^(\+OK Logging out|-ERR Too many bad commands|-ERR Some deleted messages not removed)/;

/** What pop3d sees of a line: the content up to LF, one trailing CR dropped. */
function seen(content: Buffer, ending: string): Buffer {
  const full = ending === '\r\n' ? Buffer.concat([content, Buffer.from('\r')]) : content;
  return full.length > 0 && full[full.length - 1] === 0x0d ? full.subarray(0, full.length - 1) : full;
}

/** Whether a +OK reply to this line is multi-line (RFC 1939, 2449, 5034: CAPA, LIST, UIDL, RETR, TOP, bare AUTH). */
function multiLine(line: Buffer): 'retr' | 'top' | 'list' | 'uidl' | 'capa' | 'auth' | undefined {
  const space = line.indexOf(0x20);
  const verb = (space === -1 ? line : line.subarray(0, space)).toString('latin1').toUpperCase();
  const args =
    space === -1
      ? []
      : line
          .subarray(space + 1)
          .toString('latin1')
          .split(' ')
          .filter((a) => a !== '');
  if (verb === 'RETR') return 'retr';
  if (verb === 'TOP') return 'top';
  if (verb === 'CAPA') return 'capa';
  if (verb === 'LIST' && args.length === 0) return 'list';
  if (verb === 'UIDL' && args.length === 0) return 'uidl';
  if (verb === 'AUTH' && args.length === 0) return 'auth';
  return undefined;
}

function loginLines(user: string, password: string, how: SessionCase['login']): string[] {
  switch (how) {
    case 'none':
      return [];
    case 'user-pass':
      return [`USER ${user}`, `PASS ${password}`];
    case 'wrong':
      return [`USER ${user}`, `PASS not-${password}`];
    case 'auth-plain':
      return [`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`];
  }
}

/** What the cases exercised, to show the fuzzer reaches every state (printed by `npm run fuzz`). */
export interface FuzzStats {
  cases: number;
  replies: number;
  logins: number;
  multiLine: Record<string, number>;
  closedBy: Record<string, number>;
}

export function newStats(): FuzzStats {
  return { cases: 0, replies: 0, logins: 0, multiLine: {}, closedBy: {} };
}

export class GrammarError extends Error {
  constructor(message: string, transcript: string[]) {
    super(`${message}\ntranscript (last 20 lines):\n${transcript.slice(-20).join('\n')}`);
    this.name = 'GrammarError';
  }
}

/**
 * Runs one case against pop3d on 127.0.0.1:port and checks every reply.
 * Throws GrammarError (or an assertion) when the property does not hold.
 */
export async function runSessionCase(
  port: number,
  maildirRoot: string,
  c: SessionCase,
  stats?: FuzzStats,
  users: readonly string[] = Object.keys(FUZZ_USERS),
): Promise<void> {
  const user = users[c.user % users.length]!;
  const password = FUZZ_USERS[user]!;
  await restoreMailbox(maildirRoot, user);

  const { client, greeting } = await Pop3Client.connect(port, { host: '127.0.0.1' });
  const transcript: string[] = [`S: ${greeting}`];
  try {
    if (!STATUS_RE.test(greeting) || !greeting.startsWith('+OK')) throw new GrammarError('bad greeting', transcript);
    const lines: Array<{ content: Buffer; ending: string }> = [
      ...loginLines(user, password, c.login).map((l) => ({ content: Buffer.from(l, 'latin1'), ending: '\r\n' })),
      ...c.lines,
    ];
    const stream = Buffer.concat(lines.flatMap((l) => [l.content, Buffer.from(l.ending, 'latin1')]));
    const cuts = [...new Set(c.cuts.map((n) => n % (stream.length + 1)))].sort((a, b) => a - b);
    let from = 0;
    for (const cut of [...cuts, stream.length]) {
      if (cut > from) {
        client.writeRaw(stream.subarray(from, cut));
        from = cut;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }

    let saslResponseNext = false;
    for (const [index, { content, ending }] of lines.entries()) {
      const line = seen(content, ending);
      const shown = line.length > 60 ? `${line.subarray(0, 60).toString('latin1')}...(${line.length})` : line;
      transcript.push(`C: ${JSON.stringify(shown.toString('latin1'))}`);
      let status: string;
      try {
        status = await client.readLine();
      } catch (error) {
        throw new GrammarError(
          `no reply to line ${index + 1} of ${lines.length}: ${(error as Error).message}`,
          transcript,
        );
      }
      transcript.push(`S: ${status}`);
      if (stats) {
        stats.replies++;
        if (status.startsWith('+OK Logged in')) stats.logins++;
      }
      const wasSasl = saslResponseNext;
      saslResponseNext = false;
      if (status === '+ ') {
        // RFC 5034 section 4: the server challenge of AUTH PLAIN (empty).
        if (wasSasl || !/^auth\s+plain$/i.test(line.toString('latin1').trim()))
          throw new GrammarError('"+ " continuation to something other than AUTH PLAIN', transcript);
        saslResponseNext = true;
        continue;
      }
      if (!STATUS_RE.test(status)) throw new GrammarError('reply is not +OK/-ERR grammar', transcript);
      const kind = wasSasl || line.length + 2 > MAX_LINE_LENGTH ? undefined : multiLine(line);
      if (status.startsWith('+OK') && kind !== undefined) {
        await checkBody(client, kind, status, line, transcript);
        if (stats) stats.multiLine[kind] = (stats.multiLine[kind] ?? 0) + 1;
      }
      if (CLOSING_REPLY_RE.test(status)) {
        if (stats) stats.closedBy[status.slice(0, 20)] = (stats.closedBy[status.slice(0, 20)] ?? 0) + 1;
        await client.waitClosed(5000).catch(() => {
          throw new GrammarError('the server did not close after a closing reply', transcript);
        });
        await nothingMore(client, transcript);
        return;
      }
    }
    // Every line is answered. Half-close: pop3d answers what it has and closes, and nothing
    // may follow the replies counted above (an extra reply means the model and server disagree).
    client.socket.end();
    await client.waitClosed(5000).catch(() => {
      throw new GrammarError('the server did not close after the client half-closed', transcript);
    });
    await nothingMore(client, transcript);
  } finally {
    client.close();
  }
}

/** After the server closed: no unread octet is left. */
async function nothingMore(client: Pop3Client, transcript: string[]): Promise<void> {
  const extra = await client.readLine(1000).then(
    (line) => JSON.stringify(line),
    (error: Error) => (/buffered: ""$/.test(error.message) ? undefined : error.message),
  );
  if (extra !== undefined) throw new GrammarError(`more was sent than one reply per line: ${extra}`, transcript);
}

async function checkBody(
  client: Pop3Client,
  kind: 'retr' | 'top' | 'list' | 'uidl' | 'capa' | 'auth',
  status: string,
  line: Buffer,
  transcript: string[],
): Promise<void> {
  const body: string[] = [];
  for (;;) {
    let next: string;
    try {
      next = await client.readLine();
    } catch (error) {
      throw new GrammarError(`multi-line reply not terminated: ${(error as Error).message}`, transcript);
    }
    if (next === '.') break;
    // RFC 1939 section 3: a line of the body starting with "." is byte-stuffed.
    if (next.startsWith('.') && !next.startsWith('..'))
      throw new GrammarError(`unstuffed line in a multi-line reply: ${JSON.stringify(next)}`, transcript);
    body.push(next);
  }
  transcript.push(`S: (${body.length} body lines)`);
  const ascii = /^[\x20-\x7e]*$/;
  switch (kind) {
    case 'capa':
      if (!body.every((l) => /^[A-Z0-9-]+( [\x20-\x7e]+)?$/.test(l)))
        throw new GrammarError('CAPA line is not a capability', transcript);
      return;
    case 'auth':
      if (!body.every((l) => /^[A-Z0-9-]+$/.test(l))) throw new GrammarError('AUTH list is not mechanisms', transcript);
      return;
    case 'list':
      if (!body.every((l) => /^[1-9]\d* \d+$/.test(l))) throw new GrammarError('LIST line is not "n size"', transcript);
      return;
    case 'uidl':
      if (!body.every((l) => /^[1-9]\d* [\x21-\x7e]{1,70}$/.test(l)))
        throw new GrammarError('UIDL line is not "n uid"', transcript);
      return;
    case 'top':
      if (!body.every((l) => !l.includes('\n'))) throw new GrammarError('TOP line holds a bare LF', transcript);
      return;
    case 'retr': {
      const octets = /^\+OK (\d+) octets$/.exec(status);
      if (!octets || !ascii.test(status)) throw new GrammarError('RETR +OK without the octet count', transcript);
      const unstuffed = body.map((l) => (l.startsWith('.') ? l.slice(1) : l) + '\r\n').join('');
      if (unstuffed.length !== Number(octets[1]))
        throw new GrammarError(`RETR sent ${unstuffed.length} octets, announced ${octets[1]}`, transcript);
      const n = Number(line.toString('latin1').split(' ').filter(Boolean)[1]);
      const expected = asSent(FUZZ_MESSAGES[n - 1] ?? Buffer.alloc(0));
      if (unstuffed !== expected) throw new GrammarError(`RETR ${n} is not message ${n} as sent`, transcript);
      return;
    }
  }
}

/** The daemon still serves: a new connection is greeted. */
export async function stillServes(port: number): Promise<void> {
  const { client, greeting } = await Pop3Client.connect(port, { host: '127.0.0.1' });
  client.close();
  if (!greeting.startsWith('+OK')) throw new Error(`after the case, a new connection got ${JSON.stringify(greeting)}`);
}

export interface FuzzRunOptions {
  numRuns: number;
  seed?: number;
  /** Counts what the cases exercised. */
  stats?: FuzzStats;
  /** The users this loop may log in as (default all); loops running at once must not share one. */
  users?: string[];
  /** Runs `alive()` after every case: throws when the daemon died. */
  alive: () => void;
}

/** Runs the session property; throws fast-check's report on a counterexample. */
export async function fuzzSessions(port: number, maildirRoot: string, options: FuzzRunOptions): Promise<void> {
  await fc.assert(
    fc.asyncProperty(sessionCaseArb, async (c) => {
      await runSessionCase(port, maildirRoot, c, options.stats, options.users);
      options.alive();
      await stillServes(port);
      if (options.stats) options.stats.cases++;
    }),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
}
