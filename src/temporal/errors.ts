/**
 * A TLS or API key source that cannot be used (unreadable file, unset variable): what the user fixes
 * in the config or the environment. Names the field or variable and the path, never a secret's value.
 */
export class TemporalCredentialsError extends Error {
  override name = 'TemporalCredentialsError';
}

/** The Temporal frontend could not be reached or refused this process; the message says why, in words. */
export class TemporalConnectionError extends Error {
  override name = 'TemporalConnectionError';
  readonly address: string;
  constructor(address: string, reason: string) {
    super(`cannot connect to Temporal at ${address}: ${reason}`);
    this.address = address;
  }
}
