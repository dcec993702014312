/**
 * Scenario b's messages: 20 MiB each, one per shape, because the cost of
 * RETR is a cost per line as much as per octet. All LF-only (as Postfix and
 * Dovecot's LDA store mail) except `crlf`, which is stored as sent.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeMessage, Rng, uniqueName } from './data';

export type MessageShape = 'base64' | 'text' | 'long' | 'crlf';
export const MESSAGE_SHAPES: readonly MessageShape[] = ['base64', 'text', 'long', 'crlf'];
export const SHAPE_LABEL: Record<MessageShape, string> = {
  base64: 'base64 attachment (76-octet lines)',
  text: 'plain text (66-octet lines)',
  long: 'long lines (998 octets)',
  crlf: 'base64 stored with CRLF',
};

/** The user whose one message has `shape`. */
export function shapeUser(shape: MessageShape): string {
  return `big-${shape}`;
}

const MIME_HEAD =
  'From: Sender <sender@example.org>\nTo: big@bench.invalid\nSubject: Benchmark attachment\n' +
  'Date: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <big@example.org>\nMIME-Version: 1.0\n' +
  'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nSee the attachment.\n\n' +
  '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n' +
  'Content-Disposition: attachment; filename="data.bin"\n\n';

function base64Message(rng: Rng, size: number): string {
  const raw = Buffer.allocUnsafe(Math.ceil((size * 3) / 4));
  for (let i = 0; i < raw.length; i++) raw[i] = rng.int(256);
  const text = raw.toString('base64');
  const lines: string[] = [MIME_HEAD];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76) + '\n');
  lines.push('--b1--\n');
  return lines.join('');
}

function longLineMessage(rng: Rng, size: number): string {
  const words = 'relay header message storage delivery mailbox queue domain account'.split(' ');
  const parts = ['From: sender@example.org\nTo: big@bench.invalid\nSubject: long lines\n\n'];
  let length = parts[0]!.length;
  while (length < size) {
    // RFC 5322 §2.1.1: at most 998 octets before CRLF; one line in 40 starts with "." (stuffed).
    let line = rng.int(40) === 0 ? '.' : '';
    while (line.length < 998) line += words[rng.int(words.length)] + ' ';
    line = line.slice(0, 998) + '\n';
    parts.push(line);
    length += line.length;
  }
  return parts.join('');
}

/** The message of `shape`, about `size` octets. */
export function shapedMessage(shape: MessageShape, size: number, seed: number): Buffer {
  const rng = new Rng(seed);
  if (shape === 'text') return makeMessage(rng, 0, size, 'big');
  if (shape === 'long') return Buffer.from(longLineMessage(rng, size), 'latin1');
  const text = base64Message(rng, size);
  return Buffer.from(shape === 'crlf' ? text.replace(/\n/g, '\r\n') : text, 'latin1');
}

/** Writes each shape's message into the Maildir of its user (in cur/, already seen); returns the users. */
export function writeShapedMailboxes(root: string, size: number): string[] {
  return MESSAGE_SHAPES.map((shape, i) => {
    const user = shapeUser(shape);
    const maildir = join(root, user, 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true, mode: 0o700 });
    writeFileSync(join(maildir, 'cur', uniqueName(0) + ':2,'), shapedMessage(shape, size, 7 + i), { mode: 0o600 });
    return user;
  });
}
