/**
 * The message writer behind RETR and TOP (RFC 1939 §7): one message file,
 * CRLF-normalised and dot-stuffed, to a socket, with backpressure. A small
 * message is one synchronous read; a big one is streamed. MaildirMailbox
 * (mailbox.ts) is this plus the changes a session makes.
 */
import { closeSync, type promises as fsp, readSync } from 'node:fs';
import type { Logger } from '../log';
import { MessageUnavailableError } from './errors';
import { openMessage, openMessageSync } from './open-message';
import { Normaliser } from './normalise';
import type { MessageInfo, WriteOptions } from './types';
import { drained, type MessageSink } from './message-sink';
import { streamMessage } from './stream-message';

/** The output closed while a message was being written. */

/** Largest read when sending a message, octets. 256 KiB. */
const SEND_CHUNK = 256 * 1024;
/** Messages smaller than this (as sent), and TOP's first read, are one synchronous call: see MessageWriter.writeAtOnce. 64 KiB. */
const SYNC_READ_MAX = 64 * 1024;

/** Writes the messages of one opened mailbox: `files[i]` (relative to `dir`) is message i, of `messages[i].size` octets as sent. */
export class MessageWriter {
  constructor(
    protected readonly dir: string,
    protected readonly files: readonly string[],
    readonly messages: ReadonlyArray<MessageInfo>,
    protected readonly log: Logger,
  ) {}

  async write(index: number, out: MessageSink, opts: WriteOptions = {}): Promise<void> {
    const rel = this.files[index];
    if (rel === undefined) throw new RangeError(`no message at index ${index}`);
    const file = `${this.dir}/${rel}`;
    const size = this.messages[index]!.size;
    if ((size < SYNC_READ_MAX || opts.bodyLines !== undefined) && this.writeAtOnce(file, rel, size, out, opts)) return;
    let fh: fsp.FileHandle;
    try {
      fh = await openMessage(file);
    } catch (err) {
      throw this.openFailed(rel, err);
    }
    try {
      if (opts.bodyLines === undefined) return await streamMessage(fh, out);
      const norm = new Normaliser({ dotStuff: true, bodyLines: opts.bodyLines });
      // Big reads for a big message (fewer read and write calls), no more than the message for a small one.
      const chunkSize = Math.min(SEND_CHUNK, this.messages[index]!.size + 1);
      let buf = Buffer.allocUnsafe(chunkSize);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        const data = norm.transform(chunk);
        // The socket may hold on to what it was given until sent: a slice of `buf` means a fresh read buffer.
        if (data.buffer === buf.buffer) buf = Buffer.allocUnsafe(chunkSize);
        if (data.length > 0 && !out.write(data)) await drained(out);
        // TOP is complete, or a short read of a regular file: its end.
        if (norm.done) return;
        if (bytesRead < chunkSize) break;
      }
      const tail = norm.finishBuffer();
      if (tail !== undefined && !out.write(tail)) await drained(out);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * A small message, or the head of a big one that TOP needs, in one
   * synchronous open, read and close: on a local file system a few
   * microseconds, against three thread-pool round trips and their promises,
   * which were a fifth of a whole session's CPU (profile of the benchmark's
   * scenario a). The cost is that a read that has to wait for the disk blocks
   * the event loop for that long (as it blocks a Dovecot process serving many
   * clients); Maildirs are expected on a local file system (README).
   * Returns false, having written nothing, when that one read was not enough
   * (the file is bigger than its listed size says, or TOP needs more): the
   * message is then streamed. Throws as write() does.
   */
  private writeAtOnce(file: string, rel: string, size: number, out: MessageSink, opts: WriteOptions): boolean {
    let fd: number;
    try {
      fd = openMessageSync(file);
    } catch (err) {
      throw this.openFailed(rel, err);
    }
    // The file (LF or CRLF line endings) is never longer than its size as sent (CRLF): a read of one more
    // octet than that, shorter than asked, has the whole file.
    const want = Math.min(size + 1, SYNC_READ_MAX);
    let data: Buffer;
    try {
      const buf = Buffer.allocUnsafe(want);
      data = buf.subarray(0, readSync(fd, buf, 0, want, 0));
    } finally {
      closeSync(fd);
    }
    const whole = data.length < want;
    const norm = new Normaliser({ dotStuff: true, bodyLines: opts.bodyLines });
    const body = norm.transform(data);
    if (!whole && !norm.done) return false;
    const tail = norm.done ? undefined : norm.finishBuffer();
    const output = tail === undefined ? body : Buffer.concat([body, tail]);
    if (output.length > 0) out.write(output);
    return true;
  }

  /** Logs a message file that cannot be opened; the error for write() to reject with (nothing was sent). */
  private openFailed(rel: string, err: unknown): MessageUnavailableError {
    this.log.warn('message.open_failed', { file: rel, error: err });
    return new MessageUnavailableError(`message file ${rel} cannot be read`, { cause: err });
  }
}
