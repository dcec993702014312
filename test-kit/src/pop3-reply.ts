/**
 * POP3 reply framing, written once for the kit's client and the benchmark's
 * load generator: where a status line ends, whether it is positive, and
 * where a multi-line reply ends. Lines are latin1, so one character is one
 * octet and octet counts can be asserted exactly.
 */

/** RFC 1939 §3: a multi-line reply ends with CRLF "." CRLF (the CRLF ending the status line counts). */
export const MULTILINE_END = Buffer.from('\r\n.\r\n');

/** RFC 1939 §3: a positive status indicator is "+OK". */
export function isOk(status: string): boolean {
  return status.startsWith('+OK');
}

/** The first CRLF-terminated line of `data` without its CRLF, and the octets it took; undefined while incomplete. */
export function firstLine(data: Buffer): { line: string; length: number } | undefined {
  const end = data.indexOf('\r\n');
  return end === -1 ? undefined : { line: data.toString('latin1', 0, end), length: end + 2 };
}

/**
 * Watches the octets of a multi-line reply go by and says when they end with
 * CRLF.CRLF: dot-stuffing guarantees that sequence appears nowhere else, and
 * nothing else arrives while a reply is outstanding, so a 20 MB RETR costs
 * one comparison per chunk, not a scan.
 */
export class MultilineEndWatch {
  /** The last up-to-5 octets seen. */
  private tail = Buffer.alloc(MULTILINE_END.length);
  private tailLength = 0;

  reset(): void {
    this.tailLength = 0;
  }

  /** Feeds the next octets (starting with the status line's CRLF); true once the reply is complete. */
  push(data: Buffer): boolean {
    const size = MULTILINE_END.length;
    if (data.length >= size) {
      data.copy(this.tail, 0, data.length - size);
      this.tailLength = size;
    } else {
      const keep = Math.min(this.tailLength, size - data.length);
      this.tail.copy(this.tail, 0, this.tailLength - keep, this.tailLength);
      data.copy(this.tail, keep);
      this.tailLength = keep + data.length;
    }
    return this.tailLength === size && this.tail.equals(MULTILINE_END);
  }
}
