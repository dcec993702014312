/**
 * The entry points for callers: parse an input into the canonical config, or
 * get the issues, each with a printable path and an operator's sentence.
 */
import { type z } from 'zod';
import { configSchema } from './config-schema';
import type { CanonicalConfig, ConfigIssue } from './types';

export type ParseResult = { ok: true; config: CanonicalConfig } | { ok: false; issues: ConfigIssue[] };

/** `['ssl', 'binds', 2, 'port']` -> `ssl.binds[2].port`; the root is `(config)`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(config)' : text;
}

// zod reports unknown keys once per object; an operator wants each one named by its own path.
function toIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      code: 'unknown_key',
      message: 'is not a known field; check the spelling against the documented fields',
    }));
  }
  return [{ path: formatPath(issue.path), code: issue.code, message: issue.message }];
}

/** Validates any JSON value; never throws for bad input. */
export function parseConfig(input: unknown): ParseResult {
  const result = configSchema.safeParse(input);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, issues: result.error.issues.flatMap(toIssues) };
}

/** Like parseConfig, for callers that hold a value already known to be valid. */
export function canonicalize(input: unknown): CanonicalConfig {
  const result = parseConfig(input);
  if (!result.ok) throw new ConfigInvalidError(result.issues);
  return result.config;
}

/** One line per issue: `ssl.binds[2].port: must be a port from 1 to 65535`. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
}

export class ConfigInvalidError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration:\n${formatIssues(issues)}`);
    this.name = 'ConfigInvalidError';
  }
}
