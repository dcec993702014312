/** @pop3-iac/test-kit: what the tests, fuzz, soak, benchmark and provider tests share (see README.md). */
export * from './admin-pki';
export * from './certificates';
export * from './dovecot';
export * from './dovecot-conf';
export * from './haproxy';
export * from './maildir';
export * from './netns';
export * from './passwd';
export * from './pop3-client';
export * from './pop3-reply';
export * from './pop3d-process';
export * from './postgresql';
export * from './pulumi';
export * from './sshd';
