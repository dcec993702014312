/**
 * A server the benchmark runs as its child (pop3d or Dovecot's master):
 * started by the subclass, restarted between scenarios, stopped with
 * SIGTERM and SIGKILL after a grace period, its pid the root of the process
 * tree that is measured.
 */
import type { ResultPromise } from 'execa' with { 'resolution-mode': 'import' };
import type { Account } from './system';

/** What both servers are given: the same tree, users and certificate, and their three ports on 127.0.0.1. */
export interface ServerSetup {
  dir: string;
  maildirRoot: string;
  usersFile: string;
  certFile: string;
  keyFile: string;
  port: number;
  sslPort: number;
  /** Plain POP3 that takes a PROXY header from 127.0.0.1 (the benchmark's HAProxy), for scenario g. */
  proxyPort: number;
  /** The user the server runs as. */
  account: Account;
  /** The open-file limit the server (Dovecot: the master, and so every process) gets. */
  nofile: number;
}

export abstract class ServerProcess {
  protected child: ResultPromise | undefined;

  constructor(
    private readonly label: string,
    /** How long a stop may take before SIGKILL, ms. */
    private readonly stopTimeoutMs: number,
  ) {}

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.label} is not running`);
    return pid;
  }

  abstract start(): Promise<void>;

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.stopTimeoutMs);
    await child;
    clearTimeout(timer);
  }
}
