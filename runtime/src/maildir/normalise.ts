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
 *
 * Every change it makes to the bytes is the insertion of one octet before an
 * input position (a CR before a bare LF, a "." before a line starting with
 * "."; a CR held back from the previous chunk) or the end of the output before
 * the end of the input (a CR held back, TOP done). `plan()` finds those in one
 * pass without allocating; `transform()` then copies the input once into one
 * output buffer (or returns a slice of the input when nothing changes), and
 * `measure()` only counts.
 */
export class Normaliser {
  private lineStart = true;
  private lineHasContent = false;
  private pendingCR = false;
  private phase = Phase.Header;
  private remaining: number;
  private readonly dotStuff: boolean;
  private readonly top: boolean;
  /** Insertions planned for the current chunk: input position and octet. */
  private at = new Int32Array(64);
  private octet = new Uint8Array(64);
  private inserts = 0;
  /** true once TOP has sent all it must. */
  done = false;

  constructor(opts: NormaliserOptions) {
    this.dotStuff = opts.dotStuff;
    this.top = opts.bodyLines !== undefined;
    this.remaining = opts.bodyLines ?? 0;
  }

  /** Processes one chunk; appends its output to `out`. Returns true when the output is complete (TOP). */
  push(buf: Buffer, out: Buffer[]): boolean {
    const data = this.transform(buf);
    if (data.length > 0) out.push(data);
    return this.done;
  }

  /** The output for one chunk: a slice of `buf` when unchanged, else one new buffer. Empty once TOP is done. */
  transform(buf: Buffer): Buffer {
    const end = this.plan(buf);
    const n = this.inserts;
    if (n === 0) return end === buf.length ? buf : buf.subarray(0, end);
    const out = Buffer.allocUnsafe(end + n);
    let o = 0;
    let from = 0;
    for (let i = 0; i < n; i++) {
      const to = this.at[i]!;
      if (to > from) o += buf.copy(out, o, from, to);
      out[o++] = this.octet[i]!;
      from = to;
    }
    if (end > from) buf.copy(out, o, from, end);
    return out;
  }

  /** The number of octets `transform(buf)` would return, without building them. */
  measure(buf: Buffer): number {
    const end = this.plan(buf);
    return end + this.inserts;
  }

  /** At end of file: a last line without a newline gets CRLF. */
  finish(out: Buffer[]): void {
    const tail = this.finishBuffer();
    if (tail !== undefined) out.push(tail);
  }

  /** At end of file: the CRLF a last line without a newline gets, or undefined. */
  finishBuffer(): Buffer | undefined {
    if (this.done) return undefined;
    const tail = this.pendingCR || this.lineHasContent ? CRLF_BUF : undefined;
    this.pendingCR = false;
    this.lineHasContent = false;
    this.lineStart = true;
    return tail;
  }

  private insert(position: number, octet: number): void {
    if (this.inserts === this.at.length) {
      const at = new Int32Array(this.at.length * 2);
      at.set(this.at);
      this.at = at;
      const oc = new Uint8Array(this.octet.length * 2);
      oc.set(this.octet);
      this.octet = oc;
    }
    this.at[this.inserts] = position;
    this.octet[this.inserts] = octet;
    this.inserts++;
  }

  /** Plans the insertions for `buf` (into at/octet/inserts) and returns where its output ends. */
  private plan(buf: Buffer): number {
    this.inserts = 0;
    if (this.done) return 0;
    let pos = 0;
    const n = buf.length;
    if (this.pendingCR && n > 0) {
      // The CR held back from the previous chunk goes out now: before an LF it ends the line, otherwise it is content.
      this.pendingCR = false;
      this.insert(0, CR);
      if (buf[0] === LF) {
        pos = 1;
        if (this.endLine()) return 1;
      } else {
        this.lineStart = false;
        this.lineHasContent = true;
      }
    }
    while (pos < n) {
      if (this.lineStart && this.dotStuff && buf[pos] === DOT) this.insert(pos, DOT);
      const lf = buf.indexOf(LF, pos);
      if (lf === -1) {
        let end = n;
        if (buf[n - 1] === CR) {
          // Is it a CRLF split across chunks, or a lone CR? The next chunk tells.
          end = n - 1;
          this.pendingCR = true;
        }
        if (end > pos) {
          this.lineStart = false;
          this.lineHasContent = true;
        }
        return end;
      }
      const crlf = lf > pos && buf[lf - 1] === CR;
      if (!crlf) this.insert(lf, CR); // a bare LF: the line goes out with CRLF
      if ((crlf ? lf - 1 : lf) > pos) this.lineHasContent = true;
      pos = lf + 1;
      if (this.endLine()) return pos;
    }
    return n;
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
