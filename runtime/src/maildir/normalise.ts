/**
 * Turns message file bytes into the bytes of a POP3 multi-line response body:
 * every line ends in CRLF (a bare LF becomes CRLF; a lone CR not followed by
 * LF is content and is passed through), lines starting with "." are
 * dot-stuffed, a last line without a newline gets one, and TOP stops after
 * the header, the blank line and the requested number of body lines.
 *
 * The same code measures message sizes (with dot-stuffing off), so that the
 * size LIST reports is exactly the number of octets RETR sends before
 * stuffing.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF_BUF = Buffer.from('\r\n');
const CR_BUF = Buffer.from('\r');
const DOT_BUF = Buffer.from('.');

export interface NormaliserOptions {
  /** Double a "." at the start of a line (RFC 1939 byte-stuffing). */
  dotStuff: boolean;
  /** Body lines to send after the header and its blank line (TOP); undefined: all (RETR). */
  bodyLines?: number;
}

const enum Phase {
  Header,
  Body,
}

/**
 * Incremental normaliser; feed it chunks in order, then call finish().
 * `push` appends output pieces to `out` (slices of the input where possible)
 * and reports whether the output is complete (TOP reached its line count).
 */
export class Normaliser {
  private lineStart = true;
  private lineHasContent = false;
  private pendingCR = false;
  private phase = Phase.Header;
  private remaining: number;
  private readonly dotStuff: boolean;
  private readonly top: boolean;
  /** true once TOP has sent all it must. */
  done = false;
  /** true when the last push changed the bytes (so its input slice could not be sent as is). */
  modified = false;

  constructor(opts: NormaliserOptions) {
    this.dotStuff = opts.dotStuff;
    this.top = opts.bodyLines !== undefined;
    this.remaining = opts.bodyLines ?? 0;
  }

  /** Processes one chunk. Returns true when the output is complete (TOP), after which later input is ignored. */
  push(buf: Buffer, out: Buffer[]): boolean {
    this.modified = false;
    if (this.done) return true;
    let pos = 0;
    const n = buf.length;
    if (this.pendingCR && n > 0) {
      this.pendingCR = false;
      this.modified = true;
      if (buf[0] === LF) {
        out.push(CRLF_BUF);
        pos = 1;
        if (this.endLine()) return true;
      } else {
        out.push(CR_BUF);
        this.lineStart = false;
        this.lineHasContent = true;
      }
    }
    while (pos < n) {
      if (this.lineStart && this.dotStuff && buf[pos] === DOT) {
        out.push(DOT_BUF);
        this.modified = true;
      }
      const lf = buf.indexOf(LF, pos);
      if (lf === -1) {
        let end = n;
        if (buf[n - 1] === CR) {
          // Is it a CRLF split across chunks, or a lone CR? The next chunk tells.
          end = n - 1;
          this.pendingCR = true;
          this.modified = true;
        }
        if (end > pos) {
          out.push(buf.subarray(pos, end));
          this.lineStart = false;
          this.lineHasContent = true;
        }
        return false;
      }
      let end = lf;
      if (end > pos && buf[end - 1] === CR) {
        end--;
        if (end > pos) out.push(buf.subarray(pos, end));
        out.push(CRLF_BUF);
      } else {
        // A bare LF: the line goes out with CRLF.
        this.modified = true;
        if (end > pos) out.push(buf.subarray(pos, end));
        out.push(CRLF_BUF);
      }
      if (end > pos) this.lineHasContent = true;
      pos = lf + 1;
      if (this.endLine()) return true;
    }
    return false;
  }

  /** At end of file: a last line without a newline gets CRLF. */
  finish(out: Buffer[]): void {
    if (this.done) return;
    if (this.pendingCR || this.lineHasContent) out.push(CRLF_BUF);
    this.pendingCR = false;
    this.lineHasContent = false;
    this.lineStart = true;
  }

  private endLine(): boolean {
    const blank = !this.lineHasContent;
    this.lineStart = true;
    this.lineHasContent = false;
    if (!this.top) return false;
    if (this.phase === Phase.Header) {
      if (blank) {
        this.phase = Phase.Body;
        if (this.remaining <= 0) this.done = true;
      }
    } else if (--this.remaining <= 0) {
      this.done = true;
    }
    return this.done;
  }
}

/** Sum of the lengths of `pieces`. */
export function totalLength(pieces: readonly Buffer[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}
