/**
 * A Maildir named by the user database (the SQL `maildir` column) stays
 * below --maildir-root.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidMaildirPathError, maildirBelowRoot } from '../src/maildir/index';

describe('Maildir paths from a user database', () => {
  it('takes PostfixAdmin-style relative paths below the root', () => {
    assert.equal(maildirBelowRoot('/srv/mail', 'example.org/user/'), '/srv/mail/example.org/user');
    assert.equal(maildirBelowRoot('/srv/mail', 'example.org//user'), '/srv/mail/example.org/user');
    assert.equal(maildirBelowRoot('/srv/mail', 'u/Maildir'), '/srv/mail/u/Maildir');
  });

  it('refuses absolute paths, "." and ".." segments, control characters and backslashes', () => {
    for (const bad of ['', '/', '/etc', '../x', 'a/../../b', 'a/./b', '.', '..', 'a\0b', 'a\nb', 'a\\b', '//']) {
      assert.throws(() => maildirBelowRoot('/srv/mail', bad), InvalidMaildirPathError, JSON.stringify(bad));
    }
  });
});
