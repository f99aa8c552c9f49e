/**
 * Work a caller does inside a write's own transaction, so that a check of the result sees exactly
 * what is about to be committed and can still undo it (the lint guard of `lineup sql` and
 * `lineup import`).
 */
export interface TransactionHooks {
  /** Right after BEGIN, before anything is written. */
  begin?(): void;
  /** After the last write, before COMMIT; throwing rolls the whole transaction back. */
  beforeCommit?(): void;
}

/** The same, for a backend whose reads are asynchronous (PostgreSQL). */
export interface AsyncTransactionHooks {
  begin?(): Promise<void>;
  beforeCommit?(): Promise<void>;
}
