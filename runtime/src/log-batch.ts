/**
 * A log stream that gathers the lines written during one turn of the event
 * loop and writes them in one call at its end. Writes to a file or a pipe
 * are synchronous system calls in Node; at a few lines per POP3 session and
 * thousands of sessions a second, one call per line was a measurable part of
 * pop3d's CPU (benchmark scenario a). Lines keep their order; what is pending
 * is written when the process exits (normally, by process.exit or after an
 * uncaught exception). Only a SIGKILL can lose lines: those of the last turn.
 */
import type { LogStream } from './log';

/** Pending octets (about) beyond which the lines are written at once rather than at the end of the turn. 64 KiB. */
const FLUSH_AT = 64 * 1024;

export class BatchedLogStream implements LogStream {
  private pending: string[] = [];
  private pendingLength = 0;
  private scheduled = false;

  constructor(private readonly target: LogStream) {
    process.on('exit', () => this.flush());
  }

  write(line: string): void {
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    try {
      this.target.write(text);
    } catch {
      // As in JsonLogger.write: a broken log stream must not take the process down.
    }
  }
}
