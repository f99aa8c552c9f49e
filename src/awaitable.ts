/**
 * A value at hand, or one still coming. The request path takes lookups that may be asynchronous
 * (PostgreSQL: a round trip on a cache miss) and stays synchronous when the value is at hand
 * (SQLite, a remembered subscriber): measured against wrapping every lookup in a promise, see
 * `andThen`.
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * `next(value)`: at once when the value is at hand, after it settles when it is a promise. Chosen
 * over awaiting a promise at every step so that SQLite answers in the very call that asked, as it
 * always has (the fast path writes its response, the bench's render loop stays synchronous), at no
 * cost; a promise per step cost about 2% of the server CPU of a warm 304 (bench A/B, see the
 * performance notes).
 */
export function andThen<T, U>(value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
