/**
 * Runtime limits: each a whole number with its unit in its name, its range,
 * and a default an operator of Dovecot would recognise.
 */
import { z } from 'zod';
import type { Limits } from './types';

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxLineLength: 1024,
  authTimeoutSeconds: 180,
  idleTimeoutSeconds: 600,
  maxBadCommands: 10,
  maxConnections: 1000,
  maxConnectionsPerIp: 50,
  loginFailureDelayMs: 2000,
  loginFailureDelayMaxMs: 15000,
});

const wholeNumber = (min: number, max: number, unit: string, fallback: number, why: string) =>
  z
    .number({ error: `must be a whole number of ${unit}` })
    .int({ error: `must be a whole number of ${unit}` })
    .min(min, { error: `must be at least ${min} ${unit}${why}` })
    .max(max, { error: `must be at most ${max} ${unit}` })
    .default(fallback)
    .describe(`${unit}, from ${min} to ${max}; default ${fallback}`);

export const limitsSchema = z
  .strictObject({
    // RFC 2449 section 4: "command lines ... MUST NOT exceed 255 octets, including the terminating CRLF"
    // for clients, so a server must take at least that.
    maxLineLength: wholeNumber(
      255,
      65536,
      'octets',
      DEFAULT_LIMITS.maxLineLength,
      ' (RFC 2449 allows 255-octet commands)',
    ),
    authTimeoutSeconds: wholeNumber(1, 86400, 'seconds', DEFAULT_LIMITS.authTimeoutSeconds, ''),
    // RFC 1939 section 3: "an autologout timer ... MUST be of at least 10 minutes". The
    // default obeys it; a lower value is the operator's explicit choice.
    idleTimeoutSeconds: wholeNumber(1, 86400, 'seconds', DEFAULT_LIMITS.idleTimeoutSeconds, ''),
    maxBadCommands: wholeNumber(1, 1000, 'commands', DEFAULT_LIMITS.maxBadCommands, ''),
    maxConnections: wholeNumber(1, 1_000_000, 'connections', DEFAULT_LIMITS.maxConnections, ''),
    maxConnectionsPerIp: wholeNumber(1, 1_000_000, 'connections', DEFAULT_LIMITS.maxConnectionsPerIp, ''),
    loginFailureDelayMs: wholeNumber(0, 60_000, 'milliseconds', DEFAULT_LIMITS.loginFailureDelayMs, ''),
    loginFailureDelayMaxMs: wholeNumber(0, 600_000, 'milliseconds', DEFAULT_LIMITS.loginFailureDelayMaxMs, ''),
  })
  .superRefine((limits, ctx) => {
    if (limits.loginFailureDelayMaxMs < limits.loginFailureDelayMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['loginFailureDelayMaxMs'],
        message: `must be at least loginFailureDelayMs (${limits.loginFailureDelayMs})`,
      });
    }
  });
