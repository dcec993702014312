/** What a message is written to (a socket, in the daemon), and the waits on it. */

/** A socket, or anything with write() and 'drain'/'close'/'error'. */
export interface MessageSink {
  /** Queues `chunk`; `done` is called once it has left user space (or with an error when it never will). */
  write(chunk: Buffer, done?: (err?: Error | null) => void): boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  removeListener(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  readonly destroyed?: boolean;
}

export class SinkClosedError extends Error {
  readonly code = 'SINK_CLOSED';
  constructor() {
    super('the output closed while a message was being written');
    this.name = 'SinkClosedError';
  }
}

/** Resolves when `out` drains; rejects if it closes or fails first. */
export function drained(out: MessageSink): Promise<void> {
  if (out.destroyed === true) return Promise.reject(new SinkClosedError());
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new SinkClosedError());
    };
    const cleanup = (): void => {
      out.removeListener('drain', onDrain);
      out.removeListener('close', onClose);
      out.removeListener('error', onClose);
    };
    out.once('drain', onDrain);
    out.once('close', onClose);
    out.once('error', onClose);
  });
}
