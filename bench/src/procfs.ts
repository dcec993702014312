/**
 * What the servers and the load generator cost, read from /proc: CPU time
 * (utime + stime of every process of a server, plus what its master has
 * reaped from children that already exited) and memory (RSS and PSS from
 * /proc/<pid>/smaps_rollup, summed over every process of a server).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's time fields (USER_HZ; 100 on every Linux we run on). */
const CLOCK_TICKS_PER_SECOND = 100;

interface StatLine {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  self: number;
  /** stime alone: the part spent in the kernel on the process's behalf (system calls, the network stack). */
  selfKernel: number;
  /** cutime + cstime (children waited for), in ticks. */
  children: number;
  /** cstime alone. */
  childrenKernel: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, so fields[11].
  return {
    pid,
    ppid: Number(fields[1]),
    self: Number(fields[11]) + Number(fields[12]),
    selfKernel: Number(fields[12]),
    children: Number(fields[13]) + Number(fields[14]),
    childrenKernel: Number(fields[14]),
  };
}

function allPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 0x30 && c <= 0x39) out.push(Number(name));
  }
  return out;
}

/** `root` and every process descending from it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (!stat) continue;
    let list = children.get(stat.ppid);
    if (!list) children.set(stat.ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return out;
}

export interface TreeCpu {
  /** User and kernel time together. */
  total: number;
  /** Kernel time alone. */
  kernel: number;
}

/**
 * CPU seconds used so far by the tree under `root`: every live process's own
 * time, plus the root's reaped-children time (a Dovecot master reaps its
 * login and pop3 processes, so their whole lives are counted even after they
 * exit). A difference of two readings is the CPU spent in between.
 */
export function treeCpuSeconds(root: number): TreeCpu {
  let ticks = 0;
  let kernelTicks = 0;
  for (const pid of processTree(root)) {
    const stat = readStat(pid);
    if (!stat) continue;
    ticks += stat.self;
    kernelTicks += stat.selfKernel;
    if (pid === root) {
      ticks += stat.children;
      kernelTicks += stat.childrenKernel;
    }
  }
  return { total: ticks / CLOCK_TICKS_PER_SECOND, kernel: kernelTicks / CLOCK_TICKS_PER_SECOND };
}

/** CPU seconds of single processes (the load generator's workers, this process). */
export function processesCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.self ?? 0;
  return ticks / CLOCK_TICKS_PER_SECOND;
}

export interface MachineCpu {
  /** Every CPU second not idle or waiting for I/O, stolen time included. */
  busy: number;
  /** Interrupt and softirq time (on loopback, much of the network stack's work). */
  irq: number;
  /** Time the hypervisor gave to other guests: a sign of a shared host. */
  steal: number;
}

/** CPU seconds of the whole machine so far, from /proc/stat. */
export function machineCpuSeconds(): MachineCpu {
  const first = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const v = first.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
  const t = (n: number) => n / CLOCK_TICKS_PER_SECOND;
  return { busy: t(v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!), irq: t(v[5]! + v[6]!), steal: t(v[7]!) };
}

export interface Memory {
  processes: number;
  /** Sum of RSS, bytes (shared pages counted once per process). */
  rss: number;
  /** Sum of PSS, bytes (shared pages divided among their users: the fair share). */
  pss: number;
}

/** RSS and PSS summed over the tree under `root`. */
export function treeMemory(root: number): Memory {
  const out: Memory = { processes: 0, rss: 0, pss: 0 };
  for (const pid of processTree(root)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    } catch {
      continue;
    }
    out.processes += 1;
    out.rss += kb(text, 'Rss:') * 1024;
    out.pss += kb(text, 'Pss:') * 1024;
  }
  return out;
}

function kb(text: string, label: string): number {
  const at = text.indexOf('\n' + label);
  if (at === -1) return 0;
  return parseInt(text.slice(at + label.length + 1), 10) || 0;
}

/** The load average line, to tell in the results how busy the machine was. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
}
