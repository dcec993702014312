/**
 * The Maildir "seen" flag, as Dovecot's POP3 server sets it on the messages
 * a session retrieved (RETR) when it ends with QUIT (Dovecot's default,
 * `pop3_no_flag_updates = no`): cur/X:2,<flags> becomes cur/X:2,<flags + S>,
 * the flags in ASCII order as the Maildir specification asks
 * (https://cr.yp.to/proto/maildir.html: "Flags must be stored in ASCII order").
 */
import { promises as fsp } from 'node:fs';

/** The file name with the S flag added; undefined when it has it already or carries no `:2,` info. */
export function withSeenFlag(name: string): string | undefined {
  const info = name.lastIndexOf(':2,');
  if (info === -1) return undefined;
  const flags = name.slice(info + 3);
  if (flags.includes('S')) return undefined;
  return name.slice(0, info + 3) + [...flags, 'S'].sort().join('');
}

/**
 * Renames each `cur/<name>` of `rels` (paths relative to `dir`) to carry S;
 * returns the new relative paths (undefined where nothing changed). A file
 * gone or renamed meanwhile (an IMAP client changed its flags) is left as
 * it is: a flag is not worth failing a QUIT for.
 */
export async function markSeen(dir: string, rels: readonly string[]): Promise<Array<string | undefined>> {
  return Promise.all(
    rels.map(async (rel) => {
      if (!rel.startsWith('cur/')) return undefined;
      const target = withSeenFlag(rel.slice(4));
      if (target === undefined) return undefined;
      try {
        await fsp.rename(`${dir}/${rel}`, `${dir}/cur/${target}`);
        return 'cur/' + target;
      } catch {
        return undefined;
      }
    }),
  );
}
