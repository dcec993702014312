/** ETags of configurations: a hash of the canonical JSON with keys in a fixed order. */
import { createHash } from 'node:crypto';

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function configEtag(config: unknown): string {
  return `"${createHash('sha256').update(stableJson(config)).digest('hex').slice(0, 32)}"`;
}

/** If-Match as clients send it: `"abc"`, `W/"abc"`, `abc`, a list, or `*`. */
export function ifMatchSatisfied(header: string, current: string): boolean {
  const bare = (tag: string) =>
    tag
      .trim()
      .replace(/^W\//, '')
      .replace(/^"(.*)"$/, '$1');
  const wanted = bare(current);
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === wanted);
}
