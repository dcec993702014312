/**
 * `pop3ctl uidl-check <maildir-root> [user...]`: prints, per mailbox, whether
 * pop3d would give every message the UIDL Dovecot gives it (see
 * maildir/uidl-check.ts). Exit 0 when all agree, 1 when some differ or
 * cannot be compared, 2 on bad usage.
 */
import { uidlCheck } from '../maildir/uidl-check';
import { compileUidlFormat, DEFAULT_UIDL_FORMAT, UidlFormatError } from '../maildir/uidl-format';
import { EXIT, type Context } from './pop3ctl';

/** Differing messages printed per mailbox (all of them with --json). */
const SHOWN_PER_MAILBOX = 5;

export async function uidlCheckCommand(
  context: Pick<Context, 'json' | 'out' | 'err'>,
  args: string[],
  flags: { uidl?: string; 'uidl-format'?: string; 'dovecot-format'?: string },
): Promise<number> {
  const [root, ...users] = args;
  const uidl = flags.uidl ?? 'maildir';
  if (root === undefined || (uidl !== 'maildir' && uidl !== 'dovecot')) {
    context.err(
      'usage: pop3ctl uidl-check <maildir-root> [user...] [--uidl maildir|dovecot] [--uidl-format <fmt>] [--dovecot-format <fmt>]\n',
    );
    return EXIT.usage;
  }
  const dovecotFormat = flags['dovecot-format'] ?? DEFAULT_UIDL_FORMAT;
  const pop3dFormat = flags['uidl-format'] ?? dovecotFormat;
  try {
    compileUidlFormat(dovecotFormat, '--dovecot-format');
    compileUidlFormat(pop3dFormat);
  } catch (error) {
    if (!(error instanceof UidlFormatError)) throw error;
    context.err(`pop3ctl uidl-check: ${error.message}\n`);
    return EXIT.usage;
  }
  const results = await uidlCheck({
    root,
    users: users.length > 0 ? users : undefined,
    uidl,
    pop3dFormat,
    dovecotFormat,
  });
  const bad = results.filter((r) => r.problem !== undefined || r.differing.length > 0);
  if (context.json) context.out(`${JSON.stringify({ agree: bad.length === 0, mailboxes: results }, null, 2)}\n`);
  else
    for (const r of results) {
      const fresh = r.unrecorded > 0 ? `, ${r.unrecorded} not in dovecot-uidlist yet (new to both)` : '';
      if (r.problem !== undefined) context.out(`${r.user}: cannot compare: ${r.problem}\n`);
      else if (r.noUidlist)
        context.out(`${r.user}: no dovecot-uidlist (Dovecot never listed it), ${r.messages} messages\n`);
      else if (r.differing.length === 0) context.out(`${r.user}: agrees, ${r.messages} messages${fresh}\n`);
      else {
        context.out(`${r.user}: ${r.differing.length} of ${r.messages - r.unrecorded} messages differ${fresh}\n`);
        for (const d of r.differing.slice(0, SHOWN_PER_MAILBOX))
          context.out(`  ${d.file}: pop3d ${d.pop3d}, Dovecot ${d.dovecot}\n`);
      }
    }
  if (!context.json)
    context.out(
      bad.length === 0
        ? `all ${results.length} mailboxes agree\n`
        : `${bad.length} of ${results.length} mailboxes differ or cannot be compared\n`,
    );
  return bad.length === 0 ? EXIT.ok : EXIT.differs;
}
