/**
 * A value at hand, or one still coming. The request path takes lookups that may be asynchronous
 * (PostgreSQL: a round trip on a cache miss) and stays synchronous when the value is at hand
 * (SQLite, a remembered subscriber).
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * `next(value)`: at once when the value is at hand, after it settles when it is a promise.
 *
 * Chosen over a promise at every step (the SQLite store wrapped in resolved promises): SQLite then
 * answers in the very call that received the request, as before (the fast path writes its answer
 * in that call; `bench/run.js` times `respond` as a plain call), and the promises cost CPU for
 * nothing. Measured on SQLite, alternating rounds (docs/performance.md, 2026-12-03): a promise
 * per step took a warm 304 from 56 to 77 µs of server CPU and a `/play` redirect from 140 to
 * 156 µs; this way costs what main did (57 and 144 µs).
 */
export function andThen<T, U>(value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
