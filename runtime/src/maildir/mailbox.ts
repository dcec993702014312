/**
 * A Maildir mailbox opened for one session: the message writer (RETR, TOP)
 * plus the only changes a session makes, at a completed QUIT: an unlink per
 * deleted message, and the seen flag when asked (RFC 1939 §6).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log';
import { FS_CONCURRENCY, errno, mapLimit } from './fs-util';
import type { MailboxScanner } from './listing';
import { releaseMailbox } from './mailbox-claim';
import { MessageWriter } from './message-writer';
import { uniqueName } from './names';
import { markSeen } from './seen-flag';
import type { Mailbox, MessageInfo } from './types';

export class MaildirMailbox extends MessageWriter implements Mailbox {
  private released = false;

  constructor(
    dir: string,
    files: readonly string[],
    messages: ReadonlyArray<MessageInfo>,
    readonly totalSize: number,
    /** Forgets the listing and sizes of what this mailbox changes. */
    private readonly scanner: MailboxScanner,
    private readonly markRetrievedSeen: boolean,
    log: Logger,
  ) {
    super(dir, files, messages, log);
  }

  async expunge(indices: readonly number[]): Promise<{ failed: number }> {
    let failed = 0;
    this.scanner.forget(this.dir);
    await mapLimit(indices, FS_CONCURRENCY, async (i) => {
      const rel = this.files[i];
      if (rel === undefined) return;
      try {
        await fsp.unlink(path.join(this.dir, rel));
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        failed++;
        this.log.error('message.delete_failed', { file: rel, error: err });
        return;
      }
      this.scanner.forgetSize(this.dir, uniqueName(rel.slice(4)));
    });
    return { failed };
  }

  async markSeen(indices: readonly number[]): Promise<void> {
    if (!this.markRetrievedSeen || indices.length === 0) return;
    this.scanner.forget(this.dir);
    await markSeen(
      this.dir,
      indices.map((i) => this.files[i]).filter((rel) => rel !== undefined),
    );
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    releaseMailbox(this.dir);
  }
}
