/**
 * The benchmark's mail, generated deterministically from a seed: the same
 * users, the same message bytes and the same file names on every run.
 *
 * Messages have LF line endings (as Postfix and Dovecot's LDA store them), so
 * both servers convert to CRLF on the fly, and about one line in 40 starts
 * with "." so both dot-stuff. File names are Postfix-style
 * (`<time>.V<dev>I<inode>M<usec>.<host>`, no `,S=`/`,W=` size fields), so
 * neither server can read a size from the name: each must measure a message
 * once and cache what it learnt.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The generator: mulberry32, small and fast; quality is beside the point, determinism is. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'were her she there been one all we their has would when if so no will can more about said up out what some into ' +
  'mailbox server message delivery queue header relay domain account storage backup report invoice meeting schedule'
).split(' ');

/** One message of about `size` octets (LF endings), with a header block and a body of wrapped words. */
export function makeMessage(rng: Rng, index: number, size: number, user: string): Buffer {
  const date = new Date(Date.UTC(2024, 0, 1) + index * 60_000).toUTCString().replace('GMT', '+0000');
  let text =
    `Return-Path: <sender${index % 97}@example.org>\n` +
    `Delivered-To: ${user}@bench.invalid\n` +
    `Received: from mx.example.org (mx.example.org [192.0.2.${(index % 250) + 1}])\n` +
    `\tby bench.invalid (Postfix) with ESMTP id ${(1000000 + index).toString(16).toUpperCase()}\n` +
    `\tfor <${user}@bench.invalid>; ${date}\n` +
    `From: Sender ${index % 97} <sender${index % 97}@example.org>\n` +
    `To: ${user}@bench.invalid\n` +
    `Subject: Benchmark message ${index} ${WORDS[rng.int(WORDS.length)]}\n` +
    `Date: ${date}\n` +
    `Message-ID: <${index}.${rng.int(1e9)}@example.org>\n` +
    `MIME-Version: 1.0\n` +
    `Content-Type: text/plain; charset=us-ascii\n` +
    `\n`;
  const parts: string[] = [text];
  let length = text.length;
  while (length < size) {
    let line = rng.int(40) === 0 ? '.' : '';
    while (line.length < 66) line += (line.length > 1 ? ' ' : '') + WORDS[rng.int(WORDS.length)];
    line += '\n';
    parts.push(line);
    length += line.length;
  }
  text = parts.join('');
  return Buffer.from(text, 'latin1');
}

/** A Postfix-style Maildir unique name: unique per (user, index), the same on every run. */
export function uniqueName(index: number): string {
  return `${1700000000 + index}.V801I${(0x10000 + index).toString(16)}M${(index * 7919) % 1000000}.bench`;
}

export interface Mailbox {
  user: string;
  messages: number;
  /** Octets on disk (LF endings). */
  bytes: number;
}

/**
 * Writes the Maildir of `user` under `root`: `count` messages of about
 * `size` octets each (jittered ±50% when `jitter`), in `folder` (`new`
 * undelivered-unread, `cur` already seen by a client).
 */
export function writeMailbox(
  root: string,
  user: string,
  opts: {
    count: number;
    size: number;
    jitter: boolean;
    folder: 'new' | 'cur';
    seed: number;
    /** Addressee named in the headers (default `user`); fixed when mailboxes must be byte-identical across users. */
    recipient?: string;
  },
): Mailbox {
  const maildir = join(root, user, 'Maildir');
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true, mode: 0o700 });
  const rng = new Rng(opts.seed);
  let bytes = 0;
  for (let i = 0; i < opts.count; i++) {
    const size = opts.jitter ? Math.round(opts.size * (0.5 + rng.next())) : opts.size;
    const message = makeMessage(rng, i, size, opts.recipient ?? user);
    const name = uniqueName(i) + (opts.folder === 'cur' ? ':2,' : '');
    writeFileSync(join(maildir, opts.folder, name), message, { mode: 0o600 });
    bytes += message.length;
  }
  return { user, messages: opts.count, bytes };
}
