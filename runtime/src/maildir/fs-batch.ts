/**
 * Batches of file-system work too numerous for one async call each (the
 * first login to a mailbox of thousands of messages: a rename and a size
 * measurement per message), done with synchronous calls in a worker thread:
 * a few microseconds per file instead of a thread-pool round trip and a
 * promise per call, and the event loop serving other sessions meanwhile.
 */
import { closeSync, openSync, readSync, renameSync } from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { Normaliser } from './normalise.js';

/** Bytes read at a time when measuring. 64 KiB. */
const READ_CHUNK = 64 * 1024;
/** Results: a size, or one of these. */
export const GONE = -1;
export const FAILED = -2;
/** Renamed, but its size could not be measured. */
export const UNMEASURED = -3;

type Request =
  { id: number; op: 'measure'; files: string[] } | { id: number; op: 'rename'; pairs: Array<[string, string]> };
type Reply = { id: number; results: Float64Array };

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Octets of a message file as sent (CRLF, final newline), as measureMessageFile counts them. */
function measureSync(file: string, buf: Buffer): number {
  const fd = openSync(file, 'r');
  try {
    const norm = new Normaliser({ dotStuff: false });
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, READ_CHUNK, null);
      if (n === 0) break;
      size += norm.measure(buf.subarray(0, n));
      if (n < READ_CHUNK) break;
    }
    return size + (norm.finishBuffer()?.length ?? 0);
  } finally {
    closeSync(fd);
  }
}

function serve(request: Request): Float64Array {
  if (request.op === 'measure') {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const out = new Float64Array(request.files.length);
    request.files.forEach((file, i) => {
      try {
        out[i] = measureSync(file, buf);
      } catch (err) {
        out[i] = errno(err) === 'ENOENT' ? GONE : FAILED;
      }
    });
    return out;
  }
  // Each file is measured right after its rename, while its inode and pages are hot: one pass, one round trip.
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  const out = new Float64Array(request.pairs.length);
  request.pairs.forEach(([from, to], i) => {
    try {
      renameSync(from, to);
    } catch (err) {
      out[i] = errno(err) === 'ENOENT' ? GONE : FAILED;
      return;
    }
    try {
      out[i] = measureSync(to, buf);
    } catch {
      out[i] = UNMEASURED;
    }
  });
  return out;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (request: Request) => {
    const results = serve(request);
    port.postMessage({ id: request.id, results } satisfies Reply, [results.buffer as ArrayBuffer]);
  });
}

/** One worker thread, started at first use and not keeping the process alive when idle. */
export class FsBatch {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Float64Array) => void; reject: (e: Error) => void }>();

  /** Sizes of `files` (GONE when missing, FAILED when unreadable). */
  measure(files: string[]): Promise<Float64Array> {
    return this.send({ id: this.nextId++, op: 'measure', files });
  }

  /**
   * Renames each pair and measures the file renamed: its size, UNMEASURED
   * when renamed but not measured, GONE when the source is missing, FAILED
   * when it could not be renamed.
   */
  renameAndMeasure(pairs: Array<[string, string]>): Promise<Float64Array> {
    return this.send({ id: this.nextId++, op: 'rename', pairs });
  }

  private send(request: Request): Promise<Float64Array> {
    const worker = this.start();
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      worker.ref();
      worker.postMessage(request);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(__filename);
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      waiter?.resolve(reply.results);
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      for (const [, waiter] of this.waiting) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the file-system worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
