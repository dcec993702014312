/** The port range rule, written once: a TCP port a listener binds, 1 to 65535 (0 would ask the OS to choose). */
import { z } from 'zod';

const MIN_PORT = 1;
const MAX_PORT = 65535;
export const PORT_RANGE = `from ${MIN_PORT} to ${MAX_PORT}`;

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_PORT && value <= MAX_PORT;
}

/** A port field: a number, whole, in the range, each failure said as such. */
export const portNumberSchema = z
  .number({ error: 'must be a port number' })
  .int({ error: 'must be a whole port number' })
  .min(MIN_PORT, { error: `must be a port ${PORT_RANGE}` })
  .max(MAX_PORT, { error: `must be a port ${PORT_RANGE}` });
