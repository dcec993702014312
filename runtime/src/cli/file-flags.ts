/**
 * Flags that name a file (pop3d's --admin-tls-*, pop3ctl's --tls-* and --ssh-*): declared from one
 * list, refused without the flag they go with, and read with the flag named in the failure.
 */
import { readFile } from 'node:fs/promises';

/** A file a flag (or argument) named could not be read: the operator's to fix. */
export class FileError extends Error {}

/** The parseArgs declarations of `flags`, each taking a value (a path, for the file flags). */
export function valueOptions<F extends string>(flags: readonly F[]): Record<F, { type: 'string' }> {
  return Object.fromEntries(flags.map((flag) => [flag, { type: 'string' }])) as Record<F, { type: 'string' }>;
}

/** `--a, --b`. */
export function flagList(flags: readonly string[]): string {
  return flags.map((f) => `--${f}`).join(', ');
}

/** Those of `flags` given in `values`. */
export function givenFlags<F extends string>(values: Record<string, unknown>, flags: readonly F[]): F[] {
  return flags.filter((flag) => values[flag] !== undefined);
}

export async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new FileError(`cannot read --${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
