/** Message measurement: the size of a message as RETR sends it, for LIST and STAT. */
import { openMessage } from './open-message.js';
import { Normaliser } from './normalise.js';

/** Bytes read from a message file at a time. 64 KiB. */
const READ_CHUNK = 64 * 1024;

/**
 * Octets of a message file as sent: CRLF line endings, a newline added to a
 * last line without one, no dot-stuffing. Streams the file once.
 */
export async function measureMessageFile(file: string): Promise<number> {
  const fh = await openMessage(file);
  try {
    const norm = new Normaliser({ dotStuff: false });
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      size += norm.measure(buf.subarray(0, bytesRead));
      // A short read of a regular file is its end: no further read needed to learn it.
      if (bytesRead < READ_CHUNK) break;
    }
    return size + (norm.finishBuffer()?.length ?? 0);
  } finally {
    await fh.close();
  }
}
