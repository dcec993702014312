/**
 * Typed request/response over one worker thread, the one protocol the crypt
 * pool (users/crypt-pool.ts) and the Maildir batch workers (maildir/fs-batch.ts)
 * speak. Each request carries an id; the worker answers it with its result or
 * the message of the error it threw. The worker is started at first use, does
 * not keep the process alive while idle, and is started again by the next
 * call after it failed or exited (the calls pending then are rejected).
 */
import { parentPort, type Transferable, Worker } from 'node:worker_threads';

type Envelope<Req> = { id: number; request: Req };
type Answer<Res> = { id: number; result: Res } | { id: number; error: string };

interface Waiter<Res> {
  resolve(result: Res): void;
  reject(error: Error): void;
}

export interface WorkerClientOptions {
  /** The error a call fails with: a worker's thrown message, or why the worker stopped. */
  error?: (message: string) => Error;
}

export class WorkerClient<Req, Res> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter<Res>>();
  private closed = false;
  private readonly makeError: (message: string) => Error;

  /** @param file the worker's compiled module, which calls serveRequests(). */
  constructor(
    private readonly file: string,
    options: WorkerClientOptions = {},
  ) {
    this.makeError = options.error ?? ((message) => new Error(message));
  }

  /** Calls in flight: a pool gives the next call to the least busy worker. */
  get pending(): number {
    return this.waiting.size;
  }

  call(request: Req, transfer: readonly Transferable[] = []): Promise<Res> {
    if (this.closed) return Promise.reject(this.makeError('the worker is closed'));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, request } satisfies Envelope<Req>, transfer);
    });
  }

  /** Stops the worker; calls pending at that moment fail, and so do later ones. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll('the worker is closed');
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.file);
    worker.unref();
    worker.on('message', (answer: Answer<Res>) => {
      const waiter = this.waiting.get(answer.id);
      if (waiter === undefined) return;
      this.waiting.delete(answer.id);
      // Idle workers must not keep the process alive.
      if (this.waiting.size === 0) worker.unref();
      if ('error' in answer) waiter.reject(this.makeError(answer.error));
      else waiter.resolve(answer.result);
    });
    const stopped = (message: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(message);
    };
    worker.on('error', (error) => stopped(`the worker failed: ${error.message}`));
    worker.on('exit', (code) => stopped(`the worker exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private failAll(message: string): void {
    for (const waiter of this.waiting.values()) waiter.reject(this.makeError(message));
    this.waiting.clear();
  }
}

/**
 * In a worker: answers each request with `handle`'s result, or the message of
 * what it threw. Requests are handled one at a time, in order. `transfer`
 * names the buffers of a result to move rather than copy.
 */
export function serveRequests<Req, Res>(
  handle: (request: Req) => Res | Promise<Res>,
  transfer: (result: Res) => Transferable[] = () => [],
): void {
  const port = parentPort;
  if (port === null) throw new Error('serveRequests() runs in a worker thread');
  let queue: Promise<void> = Promise.resolve();
  port.on('message', ({ id, request }: Envelope<Req>) => {
    queue = queue.then(async () => {
      let result: Res;
      try {
        result = await handle(request);
      } catch (error) {
        port.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies Answer<Res>);
        return;
      }
      port.postMessage({ id, result } satisfies Answer<Res>, transfer(result));
    });
  });
}
