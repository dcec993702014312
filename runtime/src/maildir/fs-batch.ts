/**
 * Batches of file-system work too numerous for one async call each (the
 * first login to a mailbox of thousands of messages: a rename and a size
 * measurement per message), done with synchronous calls in worker threads:
 * a few microseconds per file instead of a thread-pool round trip and a
 * promise per call, and the event loop serving other sessions meanwhile.
 *
 * Two workers, so that both halves of the work overlap: renames from new/ to
 * cur/ are serialised by the kernel (a cross-directory rename takes a lock of
 * the whole file system), but reading the files already moved is not. One
 * worker renames a chunk while the other measures the chunk before it; a
 * batch that is only measurements is split between the two.
 */
import { closeSync, readSync, renameSync } from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { Normaliser } from './normalise.js';
import { isRefusedEntry, openMessageSync } from './open-message.js';

/** Bytes read at a time when measuring. 64 KiB. */
const READ_CHUNK = 64 * 1024;
/**
 * Files per step of the rename/measure pipeline: big enough that the round
 * trips through the main thread cost little (about 40 for 10,000 files),
 * small enough that the measuring worker starts soon.
 */
const PIPELINE_CHUNK = 256;
/** Worker threads: one renames while the other measures. */
const WORKERS = 2;
/** Results: a size, or one of these. */
export const GONE = -1;
export const FAILED = -2;
/** Renamed, but its size could not be measured. */
export const UNMEASURED = -3;
/** Not a regular file when opened (a symlink, FIFO or device): not a message, never read (see open-message.ts). */
export const REFUSED = -4;
/** Renamed (the rename step's result before measuring). */
const RENAMED = 0;

type Request =
  { id: number; op: 'measure'; files: string[] } | { id: number; op: 'rename'; pairs: Array<[string, string]> };
type Reply = { id: number; results: Float64Array };

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Octets of a message file as sent (CRLF, final newline), as measureMessageFile counts them. */
function measureSync(file: string, buf: Buffer): number {
  const fd = openMessageSync(file);
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

/** In a worker: one request, done with synchronous calls. */
function serve(request: Request, buf: Buffer): Float64Array {
  if (request.op === 'measure') {
    const out = new Float64Array(request.files.length);
    request.files.forEach((file, i) => {
      try {
        out[i] = measureSync(file, buf);
      } catch (err) {
        out[i] = errno(err) === 'ENOENT' ? GONE : isRefusedEntry(err) ? REFUSED : FAILED;
      }
    });
    return out;
  }
  const out = new Float64Array(request.pairs.length);
  request.pairs.forEach(([from, to], i) => {
    try {
      renameSync(from, to);
      out[i] = RENAMED;
    } catch (err) {
      out[i] = errno(err) === 'ENOENT' ? GONE : FAILED;
    }
  });
  return out;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  port.on('message', (request: Request) => {
    const results = serve(request, buf);
    port.postMessage({ id: request.id, results } satisfies Reply, [results.buffer as ArrayBuffer]);
  });
}

/** One worker thread, started at first use and not keeping the process alive when idle. */
class FsWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Float64Array) => void; reject: (e: Error) => void }>();

  measure(files: string[]): Promise<Float64Array> {
    return this.send({ id: this.nextId++, op: 'measure', files });
  }

  rename(pairs: Array<[string, string]>): Promise<Float64Array> {
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

export class FsBatch {
  private readonly workers = Array.from({ length: WORKERS }, () => new FsWorker());

  /** Sizes of `files` (GONE when missing, REFUSED when not a regular file, FAILED when unreadable), split between the workers. */
  async measure(files: string[]): Promise<Float64Array> {
    const share = Math.ceil(files.length / WORKERS);
    const parts = await Promise.all(this.workers.map((w, k) => w.measure(files.slice(k * share, (k + 1) * share))));
    const out = new Float64Array(files.length);
    parts.forEach((part, k) => out.set(part, k * share));
    return out;
  }

  /**
   * Renames each pair and measures the file renamed: its size, UNMEASURED
   * when renamed but not measured, GONE when the source is missing, FAILED
   * when it could not be renamed. Chunk k+1 is renamed while chunk k is
   * measured.
   */
  async renameAndMeasure(pairs: Array<[string, string]>): Promise<Float64Array> {
    const [mover, measurer] = this.workers as [FsWorker, FsWorker];
    const out = new Float64Array(pairs.length);
    const measuring: Array<Promise<void>> = [];
    // Caught at once (a rejection left waiting while the next chunk is renamed would be an unhandled one).
    let failure: unknown;
    // Every chunk is queued to the mover at once, so that it never waits for this thread between chunks.
    const chunks: Array<{ start: number; chunk: Array<[string, string]>; renamed: Promise<Float64Array> }> = [];
    for (let start = 0; start < pairs.length; start += PIPELINE_CHUNK) {
      const chunk = pairs.slice(start, start + PIPELINE_CHUNK);
      const renamed = mover.rename(chunk);
      renamed.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
      chunks.push({ start, chunk, renamed });
    }
    for (const { start, chunk, renamed: renaming } of chunks) {
      const renamed = await renaming;
      const moved: number[] = [];
      renamed.forEach((r, i) => {
        if (r === RENAMED) moved.push(i);
        else out[start + i] = r;
      });
      if (moved.length === 0) continue;
      measuring.push(
        measurer.measure(moved.map((i) => chunk[i]![1])).then(
          (sizes) => {
            // Renamed but not measurable (e.g. removed right after the move): measured again later, or skipped.
            moved.forEach((i, k) => (out[start + i] = sizes[k]! >= 0 ? sizes[k]! : UNMEASURED));
          },
          (err: unknown) => {
            failure ??= err;
          },
        ),
      );
    }
    await Promise.all(measuring);
    if (failure !== undefined) throw failure;
    return out;
  }
}
