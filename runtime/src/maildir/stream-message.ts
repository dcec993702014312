/**
 * RETR of a message too big to read in one go: the file is read in chunks
 * into an EncoderLane's memory, encoded there, and the encoded views are
 * written to the socket as they are, with no copy in JavaScript.
 *
 * Reads are synchronous while they are fast (page cache: a 128 KiB read is
 * a copy of some tens of microseconds): a read in the thread pool costs two
 * thread switches and a promise per chunk, which was a third of pop3d's CPU
 * per MB of RETR. A read that takes longer than SLOW_READ_MS (the disk) moves
 * the rest of the message to the thread pool, where the next chunk is read
 * while the current one is encoded, so a cold file blocks the event loop for
 * at most one read.
 *
 * Backpressure is the write callback: an output region is reused only once
 * the write that took it has called back (its octets are in the kernel), so
 * at most two chunks wait in user space whatever the client's pace, and none
 * once the message is written.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { EncoderLane, ENCODER_CHUNK } from './crlf-encoder';
import { type MessageSink, SinkClosedError } from './message-sink';

/** A synchronous read slower than this, ms, sends the rest of the message to the thread pool. */
const SLOW_READ_MS = 2;

export async function streamMessage(fh: FileHandle, out: MessageSink): Promise<void> {
  const lane = EncoderLane.acquire();
  const reader = new ChunkReader(fh, lane);
  const regions = new OutputRegions(out);
  try {
    for (;;) {
      const chunk = await reader.next();
      if (chunk === undefined) break;
      const to = await regions.free();
      regions.write(to, lane.encode(chunk.region, chunk.length, to));
    }
    const tail = lane.finish();
    if (tail !== undefined) regions.write(undefined, tail);
    // Resolve once every octet has left user space, as a wait for 'drain' did: the caller's next write follows it.
    await regions.allWritten();
  } finally {
    // A read into the lane may still be running: let it end before the file closes or the lane is reused.
    await reader.settle();
    regions.whenIdle(() => EncoderLane.release(lane));
  }
}

/** The file's chunks, each in one of the lane's two input regions, in order. */
class ChunkReader {
  private region: 0 | 1 = 0;
  private inThreadPool = false;
  private prefetch: Promise<number> | undefined;
  private ended = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly lane: EncoderLane,
  ) {}

  /** The next chunk, or undefined at the end; the region it is in stays untouched until the next call. */
  async next(): Promise<{ region: 0 | 1; length: number } | undefined> {
    if (this.ended) return undefined;
    const region = this.region;
    let length: number;
    if (this.prefetch !== undefined) {
      length = await this.prefetch;
      this.prefetch = undefined;
    } else if (this.inThreadPool) {
      length = await this.readAsync(region);
    } else {
      const start = performance.now();
      length = readSync(this.fh.fd, this.lane.input(region), 0, ENCODER_CHUNK, null);
      if (performance.now() - start > SLOW_READ_MS) this.inThreadPool = true;
    }
    this.region = region === 0 ? 1 : 0;
    // A short read of a regular file is its end.
    if (length < ENCODER_CHUNK) this.ended = true;
    else if (this.inThreadPool) {
      this.prefetch = this.readAsync(this.region);
      this.prefetch.catch(() => undefined); // handled: next() or settle() awaits it
    }
    return length === 0 ? undefined : { region, length };
  }

  /** Waits for a read still running. */
  async settle(): Promise<void> {
    await this.prefetch?.catch(() => undefined);
  }

  private async readAsync(region: 0 | 1): Promise<number> {
    return (await this.fh.read(this.lane.input(region), 0, ENCODER_CHUNK, null)).bytesRead;
  }
}

/** The two output regions of a lane and the writes that hold them. */
class OutputRegions {
  private readonly busy: [boolean, boolean] = [false, false];
  private pending = 0;
  private waiter: (() => void) | undefined;
  private onIdle: (() => void) | undefined;
  private failed: Error | undefined;
  private readonly onClose = (): void => {
    this.failed ??= new SinkClosedError();
    this.wake();
  };

  constructor(private readonly out: MessageSink) {
    // The callbacks of writes a destroyed socket drops do come (with an error); 'close' is the belt to those braces.
    out.once('close', this.onClose);
  }

  /** Writes `data` (a view of output region `region`, or a constant when undefined); the region is held until it calls back. */
  write(region: 0 | 1 | undefined, data: Buffer): void {
    if (data.length === 0) return;
    if (region !== undefined) this.busy[region] = true;
    this.pending++;
    this.out.write(data, (err) => {
      if (region !== undefined) this.busy[region] = false;
      if (err) this.failed ??= new SinkClosedError();
      this.pending--;
      this.wake();
      if (this.pending === 0) this.onIdle?.();
    });
  }

  /** A region no write holds; waits for a callback while both are held. Rejects once the output failed or closed. */
  async free(): Promise<0 | 1> {
    for (;;) {
      if (this.failed !== undefined || this.out.destroyed === true) throw this.failed ?? new SinkClosedError();
      if (!this.busy[0]) return 0;
      if (!this.busy[1]) return 1;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Resolves once every write has called back; rejects if the output failed or closed. */
  async allWritten(): Promise<void> {
    for (;;) {
      if (this.failed !== undefined) throw this.failed;
      if (this.pending === 0) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Runs `fn` once no write holds a region (at once if none does). */
  whenIdle(fn: () => void): void {
    this.out.removeListener('close', this.onClose);
    if (this.pending === 0) fn();
    else this.onIdle = fn;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
