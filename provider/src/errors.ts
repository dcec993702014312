/** The provider's failures: one class, a stable `code` per failure, a message an operator can act on. */
export type Pop3ProviderErrorCode =
  | 'invalid_config'
  | 'apply_failed'
  | 'changed_underneath'
  | 'precondition_failed'
  | 'daemon_error'
  | 'bad_state'
  /** The daemon cannot be reached: delete and preview fail rather than guess. */
  | 'daemon_unreachable'
  /** Another resource owns the daemon's configuration. */
  | 'owned_elsewhere'
  /** `adopt: false` and the daemon runs a configuration nobody owns that the program would change. */
  | 'adoption_refused'
  /** The daemon at the path is not the one this resource configured. */
  | 'another_daemon';

export class Pop3ProviderError extends Error {
  constructor(
    readonly code: Pop3ProviderErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Pop3ProviderError';
  }
}

/** What stored state or inputs must hold; a `bad_state` failure with `message` when they do not. */
export function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Pop3ProviderError('bad_state', message);
  return value;
}
