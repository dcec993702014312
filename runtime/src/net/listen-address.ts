/** The `<address:port>` of pop3d's TCP listen flags (--admin-listen, --metrics-listen), read one way. */

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ListenAddressRules {
  /** Port 0 (the OS chooses; what tests ask for) is taken. */
  portZero?: boolean;
  /** The port the error message's examples name. */
  examplePort: number;
}

/** `127.0.0.1:9110`, `[::1]:9110`, `name:9110` or `*:9110` (every address); an error naming `flag` otherwise. */
export function parseListenAddress(text: string, flag: string, rules: ListenAddressRules): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= (rules.portZero === true ? 0 : 1) && port <= 65535))
    throw new Error(
      `${flag} ${text}: write address:port, such as 127.0.0.1:${rules.examplePort} or [::1]:${rules.examplePort}`,
    );
  const host = match[1] ?? match[2]!;
  return { host: host === '*' ? '::' : host, port };
}
