/**
 * Errors that carry a message safe to show to whoever caused them. The HTTP layer maps them to
 * a status in one place; the CLI prints the message as one line. Messages never hold secrets.
 */
export class LineupError extends Error {
  override name = 'LineupError';
}

/** The thing asked for does not exist, or the caller may not know whether it does. */
export class NotFoundError extends LineupError {
  override name = 'NotFoundError';
}

/**
 * A playlist key that is malformed, unknown or rotated away. Always the same message, so that a
 * guesser learns nothing; the key-guess limiter counts exactly these.
 */
export class UnknownKeyError extends NotFoundError {
  override name = 'UnknownKeyError';
  constructor() {
    super('No such playlist');
  }
}

/**
 * Xtream Codes credentials that match no subscriber: 401, the same answer for an unknown username
 * and a wrong password. The key-guess limiter counts it, once per `attempt` within a burst.
 */
export class WrongCredentialsError extends LineupError {
  override name = 'WrongCredentialsError';
  constructor(
    /** A digest of what was tried (never the password itself): a client's retries of one attempt count once. */
    readonly attempt: string,
    /** player_api.php: the body XC clients read, `{"user_info":{"auth":0}}` as JSON. */
    readonly json: boolean,
  ) {
    super('Wrong username or password');
  }
}

/** The caller is known but not allowed: a disabled or expired subscription. */
export class ForbiddenError extends LineupError {
  override name = 'ForbiddenError';
}

/** The thing asked for existed and is gone for good: a removed subscriber's playlist URL. */
export class GoneError extends LineupError {
  override name = 'GoneError';
}

/** Malformed input from a request or a command line. */
export class BadInputError extends LineupError {
  override name = 'BadInputError';
}

/** A request that its schema refuses; each field at fault is named. */
export class InvalidRequestError extends BadInputError {
  override name = 'InvalidRequestError';
  constructor(
    message: string,
    readonly fields: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }
}

/** The request clashes with what exists: a username already taken. */
export class ConflictError extends BadInputError {
  override name = 'ConflictError';
}

/** No credentials, or ones that are not known: answered 401 with `WWW-Authenticate`. */
export class UnauthorizedError extends LineupError {
  override name = 'UnauthorizedError';
}

/** An Idempotency-Key reused for another request: answered 422. */
export class IdempotencyKeyReusedError extends LineupError {
  override name = 'IdempotencyKeyReusedError';
}

/** Too many failed guesses from one address: answered 429 with `Retry-After`. */
export class TooManyRequestsError extends LineupError {
  override name = 'TooManyRequestsError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Something a request needs is briefly out of reach (another worker's metrics): 503 with Retry-After. */
export class UnavailableError extends LineupError {
  override name = 'UnavailableError';
}

/** A bad environment variable; the message names it. */
export class ConfigError extends LineupError {
  override name = 'ConfigError';
}
