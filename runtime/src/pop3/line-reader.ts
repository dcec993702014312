/**
 * Splits the bytes of a connection into command lines, and does no protocol
 * work. Lines end in LF, with or without a preceding CR (a bare LF from a
 * client is accepted).
 *
 * Nothing is buffered without bound: a line that grows past the limit is
 * reported once as LINE_TOO_LONG as soon as that is certain, and the rest of
 * it, up to its LF, is dropped as it arrives. Chunks handed in while the
 * consumer is busy are queued as they are (the caller pauses the socket, so at
 * most a chunk or two wait); lines are cut from them on demand with
 * subarray(), without copying, except for a line split across chunks.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Stands for a line longer than the limit. */
export const LINE_TOO_LONG: unique symbol = Symbol('LINE_TOO_LONG');
export type LineItem = Buffer | typeof LINE_TOO_LONG;

export class LineReader {
  private chunks: Buffer[] = [];
  private head = 0;
  private pos = 0;
  /** Start of a line whose LF has not arrived yet (copies, at most `max` octets in all). */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Dropping the rest of an overlong line until its LF. */
  private discarding = false;

  /** Queues bytes received. */
  push(chunk: Buffer): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** Whether unread bytes are queued (a partial line does not count). */
  get hasData(): boolean {
    return this.head < this.chunks.length;
  }

  /** Drops everything received and not yet read (STLS: what came after the command is never executed). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.pos = 0;
    this.partial = [];
    this.partialLength = 0;
    this.discarding = false;
  }

  /**
   * The next complete line without its line ending, LINE_TOO_LONG, or null when
   * no complete line is queued. `maxLength` counts the line with its CRLF
   * (so the line itself may hold maxLength - 2 octets).
   */
  next(maxLength: number): LineItem | null {
    while (this.head < this.chunks.length) {
      const buf = this.chunks[this.head]!;
      const lf = buf.indexOf(LF, this.pos);
      if (lf === -1) {
        const rest = buf.length - this.pos;
        if (!this.discarding) {
          if (this.partialLength + rest >= maxLength) {
            // Even a CR here would leave the line, with its CRLF, over the limit.
            this.partial = [];
            this.partialLength = 0;
            this.discarding = true;
            this.advance();
            return LINE_TOO_LONG;
          }
          // Copy, so that a small remainder does not pin a large chunk.
          this.partial.push(Buffer.from(buf.subarray(this.pos)));
          this.partialLength += rest;
        }
        this.advance();
        continue;
      }
      const segment = buf.subarray(this.pos, lf);
      this.pos = lf + 1;
      if (this.pos >= buf.length) this.advance();
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      let line = segment;
      if (this.partialLength > 0) {
        this.partial.push(segment);
        line = Buffer.concat(this.partial, this.partialLength + segment.length);
        this.partial = [];
        this.partialLength = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length + 2 > maxLength) return LINE_TOO_LONG;
      return line;
    }
    return null;
  }

  private advance(): void {
    this.head++;
    this.pos = 0;
    if (this.head >= this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
  }
}
