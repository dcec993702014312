/**
 * `pop3ctl uidl-check`: before moving POP3 from Dovecot to pop3d, the
 * messages whose UIDL would change. Dovecot's UIDL of a message is its
 * `pop3_uidl_format` expanded from `dovecot-uidlist` (or the record's saved
 * `P` UIDL); pop3d's is the Maildir unique name (`--uidl maildir`) or the
 * same expansion with pop3d's `--uidl-format` (`--uidl dovecot`). Read only:
 * nothing is written, no lock is taken. A message not in dovecot-uidlist
 * yet is new to both servers: counted, not a difference.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readUidlist, type Uidlist } from './dovecot-uidlist';
import { MailStoreError } from './errors';
import { uidlFor, uniqueName } from './names';
import { isValidMailboxUser } from './paths';
import { compileUidlFormat, type UidlVariables } from './uidl-format';

export interface UidlCheckOptions {
  root: string;
  /** Users to check; default: every `<root>/<user>/Maildir`. */
  users?: string[];
  /** What pop3d is (to be) started with. */
  uidl: 'maildir' | 'dovecot';
  /** pop3d's --uidl-format (with `dovecot`). */
  pop3dFormat: string;
  /** Dovecot's pop3_uidl_format. */
  dovecotFormat: string;
}

export interface MailboxCheck {
  user: string;
  messages: number;
  /** Messages not in dovecot-uidlist yet. */
  unrecorded: number;
  differing: Array<{ file: string; pop3d: string; dovecot: string }>;
  /** Why the mailbox could not be compared (an unusable dovecot-uidlist, no Maildir). */
  problem?: string;
  /** No dovecot-uidlist: Dovecot never served this mailbox. */
  noUidlist?: boolean;
}

export async function uidlCheck(opts: UidlCheckOptions): Promise<MailboxCheck[]> {
  const dovecotUidl = compileUidlFormat(opts.dovecotFormat);
  const pop3dUidl = opts.uidl === 'dovecot' ? compileUidlFormat(opts.pop3dFormat) : undefined;
  const users = opts.users ?? (await mailboxUsers(opts.root));
  const out: MailboxCheck[] = [];
  for (const user of users) {
    const check: MailboxCheck = { user, messages: 0, unrecorded: 0, differing: [] };
    out.push(check);
    if (!isValidMailboxUser(user)) {
      check.problem = 'not a valid user name';
      continue;
    }
    const maildir = path.join(opts.root, user, 'Maildir');
    let list: Uidlist | undefined;
    let files: string[];
    try {
      list = await readUidlist(maildir);
      files = [...(await messageFiles(maildir, 'new')), ...(await messageFiles(maildir, 'cur'))];
    } catch (err) {
      check.problem = err instanceof MailStoreError ? err.message : `cannot read ${maildir}: ${(err as Error).message}`;
      continue;
    }
    check.messages = files.length;
    if (list === undefined) {
      check.noUidlist = true;
      check.unrecorded = files.length;
      continue;
    }
    const byName = new Map(list.records.map((r) => [r.name, r]));
    for (const file of files) {
      const name = uniqueName(file);
      const r = byName.get(name);
      if (r === undefined) {
        check.unrecorded++;
        continue;
      }
      const vars: UidlVariables = { uid: r.uid, uidValidity: list.uidValidity, filename: name };
      const saved = r.ext.get('P') || undefined;
      const dovecot = saved ?? dovecotUidl(vars);
      const pop3d = pop3dUidl === undefined ? uidlFor(name) : (saved ?? pop3dUidl(vars));
      if (pop3d !== dovecot) check.differing.push({ file, pop3d, dovecot });
    }
  }
  return out;
}

async function mailboxUsers(root: string): Promise<string[]> {
  const users: string[] = [];
  for (const d of await fsp.readdir(root, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    try {
      if ((await fsp.stat(path.join(root, d.name, 'Maildir'))).isDirectory()) users.push(d.name);
    } catch {
      // not a mailbox
    }
  }
  return users.sort();
}

async function messageFiles(maildir: string, sub: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fsp.readdir(path.join(maildir, sub), { withFileTypes: true }))
    if (!d.name.startsWith('.') && (d.isFile() || d.isSymbolicLink())) out.push(d.name);
  return out;
}
