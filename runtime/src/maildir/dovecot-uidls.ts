/**
 * `--uidl dovecot`: a message's UIDL is what Dovecot's POP3 server gives it,
 * `pop3_uidl_format` expanded with its UID and the UIDVALIDITY from
 * `dovecot-uidlist` (see dovecot-uidlist.ts), messages Dovecot has not seen
 * yet first recorded there. A record carrying a POP3 UIDL of its own (the
 * `P` field, left by Dovecot's pop3-migration plugin or `pop3_save_uidl`)
 * keeps it, as Dovecot's POP3 server prefers it over the format.
 */
import { type Logger, nullLogger } from '../log';
import { recordAll } from './dovecot-uidlist';
import { MailStoreError } from './errors';
import { compileUidlFormat, DEFAULT_UIDL_FORMAT } from './uidl-format';

/** Where the store gets UIDLs from when they are not the Maildir unique names. */
export interface UidlSource {
  /** The UIDLs of the messages with these unique names in `maildir`, in the same order. */
  uidlsFor(maildir: string, names: readonly string[]): Promise<string[]>;
}

export class DovecotUidls implements UidlSource {
  private readonly expand: ReturnType<typeof compileUidlFormat>;

  /** Throws UidlFormatError for a format pop3d cannot expand as Dovecot does. */
  constructor(
    format = DEFAULT_UIDL_FORMAT,
    private readonly log: Logger = nullLogger,
  ) {
    this.expand = compileUidlFormat(format);
  }

  async uidlsFor(maildir: string, names: readonly string[]): Promise<string[]> {
    let list;
    try {
      list = await recordAll(maildir, names);
    } catch (err) {
      // The session answers [SYS/TEMP]; the operator learns why here.
      if (err instanceof MailStoreError) this.log.error('maildir.uidlist_unusable', { maildir, reason: err.message });
      throw err;
    }
    const byName = new Map(list.records.map((r) => [r.name, r]));
    return names.map((name) => {
      const r = byName.get(name)!;
      const saved = r.ext.get('P');
      if (saved !== undefined && saved !== '') return saved;
      return this.expand({ uid: r.uid, uidValidity: list.uidValidity, filename: name });
    });
  }
}
