// dovecot-uidlist parsing and writing, and pop3_uidl_format expansion, on the bytes Dovecot 2.3 writes
// (the samples below are copied from files a private Dovecot wrote in dovecot-sharing.test.ts's set-up).
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatUidlist, parseUidlist, recordAll, UidlistUnusableError } from '../src/maildir/dovecot-uidlist';
import { withSeenFlag } from '../src/maildir/seen-flag';
import { compileUidlFormat, UidlFormatError } from '../src/maildir/uidl-format';

const WRITTEN_BY_DOVECOT =
  '3 V1796185774 N4 Ga0ac8a05ae9e0f6b445f000083ecc375\n' +
  '1 W23 :1700000001.M1P1.test\n' +
  '2 W23 :1700000002.M2P1.test\n' +
  '3 W23 :1700000003.M3P1.test\n';
// Dovecot appends records without rewriting the header: N lags behind.
const APPENDED_BY_DOVECOT =
  '3 V1796186527 N1 G51a528029fa10f6b7c13000083ecc375\n' +
  '1 :1700000101.M1P1.test\n' +
  '2 :1700000102.M2P1.test\n' +
  '3 :1796186527.M302477P4991.vm,S=16,W=19\n';

describe('dovecot-uidlist', () => {
  it('reads what Dovecot writes: UIDVALIDITY, next UID, records with their fields', () => {
    const list = parseUidlist(WRITTEN_BY_DOVECOT, 'f');
    assert.equal(list.uidValidity, 1796185774);
    assert.equal(list.nextUid, 4);
    assert.deepEqual(
      list.records.map((r) => [r.uid, r.name, r.ext.get('W')]),
      [
        [1, '1700000001.M1P1.test', '23'],
        [2, '1700000002.M2P1.test', '23'],
        [3, '1700000003.M3P1.test', '23'],
      ],
    );
    assert.equal(formatUidlist(list), WRITTEN_BY_DOVECOT);
  });

  it('takes the next UID past the last record when Dovecot appended without updating N', () => {
    assert.equal(parseUidlist(APPENDED_BY_DOVECOT, 'f').nextUid, 4);
  });

  for (const [name, text] of [
    ['a torn last line', WRITTEN_BY_DOVECOT.slice(0, -4)],
    ['version 1', '1 1796185774 4\n1 1700000001.M1P1.test\n'],
    ['no UIDVALIDITY', '3 N4 Gab\n'],
    ['a record without a file name', '3 V1 N4\n1 W23\n'],
    ['UIDs out of order', '3 V1 N9\n2 :a\n1 :b\n'],
    ['an empty file', ''],
  ] as const)
    it(`refuses ${name}`, () => {
      assert.throws(() => parseUidlist(text, 'f'), UidlistUnusableError);
    });

  it('records new mail after the last UID, keeps the header and the records as they were', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'uidlist-'));
    try {
      await writeFile(join(dir, 'dovecot-uidlist'), APPENDED_BY_DOVECOT);
      const list = await recordAll(dir, ['1700000101.M1P1.test', '1800000000.M9P9.b', '1700000200.M1P1.a']);
      assert.equal(
        await readFile(join(dir, 'dovecot-uidlist'), 'utf8'),
        '3 V1796186527 N6 G51a528029fa10f6b7c13000083ecc375\n' +
          APPENDED_BY_DOVECOT.split('\n').slice(1).join('\n') +
          '4 :1700000200.M1P1.a\n5 :1800000000.M9P9.b\n',
      );
      assert.equal(list.nextUid, 6);
      await assert.rejects(stat(join(dir, 'dovecot-uidlist.lock')), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('pop3_uidl_format', () => {
  const vars = { uid: 26, uidValidity: 1796185774, filename: '1700000001.M1P1.test' };
  for (const [format, expected] of [
    ['%08Xu%08Xv', '0000001a6b0f9eae'], // Dovecot's default; Dovecot listed 000000016b0f9eae for UID 1
    ['%u.%v', '26.1796185774'],
    ['%f', '1700000001.M1P1.test'],
    ['%{uid}-%{uidvalidity}-%{filename}', '26-1796185774-1700000001.M1P1.test'],
    ['%XUv', '6B0F9EAE'], // modifiers apply in the order written,
    ['%4f%%', '1700%'],
  ] as const)
    it(`expands ${format}`, () => {
      assert.equal(compileUidlFormat(format)(vars), expected);
    });

  for (const format of ['%m', '%g', 'constant', '%0u', '%', '%{md5}'])
    it(`refuses ${JSON.stringify(format)}, naming --uidl-format`, () => {
      assert.throws(
        () => compileUidlFormat(format),
        (e: unknown) => e instanceof UidlFormatError && /--uidl-format/.test(e.message),
      );
    });
});

describe('seen flag', () => {
  it('adds S in ASCII order, once', () => {
    assert.equal(withSeenFlag('1.M1P1.h:2,'), '1.M1P1.h:2,S');
    assert.equal(withSeenFlag('1.M1P1.h:2,FT'), '1.M1P1.h:2,FST');
    assert.equal(withSeenFlag('1.M1P1.h:2,RS'), undefined);
    assert.equal(withSeenFlag('1.M1P1.h'), undefined);
  });
});
