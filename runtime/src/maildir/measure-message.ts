/**
 * The size of a message as sent (CRLF line ends, a final newline; RFC 1939
 * §11: LIST and STAT give that octet count), from its file: on the main
 * thread (measureMessageFile) or in a file-system worker
 * (measureMessageFileSync). One MessageMeter counts for both.
 */
import { closeSync, readSync } from 'node:fs';
import { Normaliser } from './normalise';
import { openMessage, openMessageSync } from './open-message';

/** Bytes read at a time when measuring. 64 KiB. */
export const MEASURE_CHUNK = 64 * 1024;

class MessageMeter {
  private readonly norm = new Normaliser({ dotStuff: false });
  private size = 0;

  /** Counts one read of `bytesRead` octets into `buf`; false when it was the file's last. */
  add(buf: Buffer, bytesRead: number): boolean {
    this.size += this.norm.measure(buf.subarray(0, bytesRead));
    // A short read of a regular file is its end: no further read needed to learn it.
    return bytesRead === MEASURE_CHUNK;
  }

  total(): number {
    return this.size + (this.norm.finishBuffer()?.length ?? 0);
  }
}

export async function measureMessageFile(file: string): Promise<number> {
  const fh = await openMessage(file);
  try {
    const meter = new MessageMeter();
    const buf = Buffer.allocUnsafe(MEASURE_CHUNK);
    while (meter.add(buf, (await fh.read(buf, 0, MEASURE_CHUNK, null)).bytesRead));
    return meter.total();
  } finally {
    await fh.close();
  }
}

/** @param buf MEASURE_CHUNK octets of scratch space, reused across calls. */
export function measureMessageFileSync(file: string, buf: Buffer): number {
  const fd = openMessageSync(file);
  try {
    const meter = new MessageMeter();
    while (meter.add(buf, readSync(fd, buf, 0, MEASURE_CHUNK, null)));
    return meter.total();
  } finally {
    closeSync(fd);
  }
}
