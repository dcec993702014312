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
import { renameSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { serveRequests, WorkerClient } from '../threads/worker-rpc';
import { errno } from './fs-util';
import { MEASURE_CHUNK, measureMessageFileSync } from './measure-message';
import { isRefusedEntry } from './open-message';

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
const UNMEASURED = -3;
/** Not a regular file when opened (a symlink, FIFO or device): not a message, never read (see open-message.ts). */
export const REFUSED = -4;
/** Renamed (the rename step's result before measuring). */
const RENAMED = 0;

type Request = { op: 'measure'; files: string[] } | { op: 'rename'; pairs: Array<[string, string]> };

/** In a worker: one request, done with synchronous calls. */
function serve(request: Request, buf: Buffer): Float64Array {
  if (request.op === 'measure') {
    const out = new Float64Array(request.files.length);
    request.files.forEach((file, i) => {
      try {
        out[i] = measureMessageFileSync(file, buf);
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

if (!isMainThread) {
  const buf = Buffer.allocUnsafe(MEASURE_CHUNK);
  serveRequests<Request, Float64Array>(
    (request) => serve(request, buf),
    (results) => [results.buffer as ArrayBuffer],
  );
}

/** One worker thread (this file), started at first use and not keeping the process alive when idle. */
class FsWorker {
  private readonly client = new WorkerClient<Request, Float64Array>(__filename, {
    error: (message) => new Error(`the file-system worker: ${message}`),
  });

  measure(files: string[]): Promise<Float64Array> {
    return this.client.call({ op: 'measure', files });
  }

  rename(pairs: Array<[string, string]>): Promise<Float64Array> {
    return this.client.call({ op: 'rename', pairs });
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
