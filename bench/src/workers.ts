/** The load-generator processes, forked once and given tasks over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Request, Response, Task, TaskResults } from './protocol';

/** Longest any one task may take (the longest is holding 10,000 sessions against Dovecot's process-per-session mode), ms. */
const TASK_TIMEOUT_MS = 10 * 60 * 1000;

export class WorkerPool {
  private readonly children: ChildProcess[] = [];
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  /** The workers inherit this process's open-file limit (main.ts raises it to the hard limit first). */
  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const child = fork(join(__dirname, 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (message: Response) => {
        const waiter = this.waiting.get(message.id);
        if (!waiter) return;
        this.waiting.delete(message.id);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`load generator ${i}: ${message.error}`));
      });
      child.on('exit', (code, signal) => {
        for (const [id, waiter] of this.waiting) {
          this.waiting.delete(id);
          waiter.reject(new Error(`load generator ${i} exited (${code ?? signal})`));
        }
      });
      this.children.push(child);
    }
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter((p) => p !== undefined);
  }

  /** Runs `task` on worker `index`. */
  run<K extends Task['kind']>(index: number, task: Extract<Task, { kind: K }>): Promise<TaskResults[K]> {
    const child = this.children[index]!;
    const id = this.nextId++;
    return new Promise<TaskResults[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load generator ${index}: ${task.kind} took longer than ${TASK_TIMEOUT_MS / 1000} s`));
      }, TASK_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as TaskResults[K]);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, task } satisfies Request);
    });
  }

  /** Runs one task per worker (`make(i)` builds worker i's), all at once. */
  all<K extends Task['kind']>(make: (index: number) => Extract<Task, { kind: K }>): Promise<Array<TaskResults[K]>> {
    return Promise.all(this.children.map((_, i) => this.run<K>(i, make(i))));
  }

  stop(): void {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGTERM');
  }
}
