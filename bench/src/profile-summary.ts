/**
 * Summaries of V8 profiles, for the evidence in RESULTS.md:
 *
 *   node bench/dist/profile-summary.js <file.cpuprofile>    top self-time frames, and time by file
 *   node bench/dist/profile-summary.js <file.heapsnapshot>  retained self size by constructor
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  if (path.startsWith('node:')) return path;
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

/** Top frames by self time; `top` rows. */
export function summariseCpuProfile(text: string, top = 25): string {
  const profile = JSON.parse(text) as CpuProfile;
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const byFrame = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const key = `${functionName || '(anonymous)'}  ${file}${url ? `:${lineNumber + 1}` : ''}`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const ms = (profile.endTime - profile.startTime) / 1000;
  const pct = (n: number) => ((100 * n) / total).toFixed(1).padStart(5) + '%';
  const lines = [`${total} samples over ${(ms / 1000).toFixed(1)} s`, '', 'self time by frame:'];
  for (const [k, v] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', 'self time by file:');
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

/** Self size by (type, name), the top `top` rows: what the heap is made of. */
export function summariseHeapSnapshot(text: string, top = 30): string {
  const snap = JSON.parse(text) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const by = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + iName]!]! : `(${type})`;
    const size = snap.nodes[i + iSize]!;
    total += size;
    const e = by.get(name) ?? { size: 0, count: 0 };
    e.size += size;
    e.count += 1;
    by.set(name, e);
  }
  const lines = [`heap: ${(total / 1048576).toFixed(1)} MB in ${snap.snapshot.node_count} objects`, ''];
  for (const [k, v] of [...by].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
    lines.push(`  ${(v.size / 1024).toFixed(0).padStart(8)} KB  ${String(v.count).padStart(8)}  ${k}`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/dist/profile-summary.js <file.cpuprofile|file.heapsnapshot>\n');
    process.exit(2);
  }
  const text = readFileSync(file, 'utf8');
  process.stdout.write(
    (file.endsWith('.heapsnapshot') ? summariseHeapSnapshot(text) : summariseCpuProfile(text)) + '\n',
  );
}
