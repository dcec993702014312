/**
 * Reads a certificate or key file named by an admin input (`tls.certFile`,
 * `tls.keyFile`) without letting the file stall the daemon: a FIFO's open()
 * would wait for a writer (holding a thread-pool thread and the config lock
 * forever), a device could be read without end. So: opened O_NONBLOCK, only a
 * regular file (fstat on the descriptor; a symlink to one is fine, as
 * /etc/letsencrypt/live uses), at most PEM_FILE_MAX_BYTES, and the whole read
 * within PEM_READ_DEADLINE_MS (a hung network file system).
 */
import { constants, promises as fsp } from 'node:fs';

/** Largest certificate chain or key file read, octets. 1 MiB. */
const PEM_FILE_MAX_BYTES = 1024 * 1024;
/** How long reading one such file may take, in milliseconds. 5 s. */
const PEM_READ_DEADLINE_MS = 5_000;

/** Why a PEM file was not read; `code` is an errno code or one of ours. */
export class PemFileError extends Error {
  constructor(
    readonly code: 'NOT_A_REGULAR_FILE' | 'FILE_TOO_LARGE' | 'READ_TIMEOUT',
    message: string,
  ) {
    super(message);
    this.name = 'PemFileError';
  }
}

export async function readPemFile(file: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PemFileError('READ_TIMEOUT', `could not be read within ${PEM_READ_DEADLINE_MS} ms`)),
      PEM_READ_DEADLINE_MS,
    );
  });
  const reading = readRegular(file);
  // If the deadline wins, the read finishes (and closes its descriptor) on its own; its failure is not ours to report.
  reading.catch(() => undefined);
  try {
    return await Promise.race([reading, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readRegular(file: string): Promise<string> {
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new PemFileError('NOT_A_REGULAR_FILE', 'is not a regular file');
    if (stat.size > PEM_FILE_MAX_BYTES)
      throw new PemFileError('FILE_TOO_LARGE', `is larger than ${PEM_FILE_MAX_BYTES} bytes`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
