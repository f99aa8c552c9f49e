/**
 * Recently served playlists by ETag, bounded by total bytes, least recently used out first. Only
 * bucketed responses go in: with TOKEN_BUCKET=0 every ETag is new and would only evict others.
 */
export class ResponseCache<Value extends { bytes: number }> {
  private readonly entries = new Map<string, Value>();
  private total = 0;

  /** `evicted` is told of every value that leaves the cache, so that its memory can be reused. */
  constructor(
    private readonly maxBytes: number,
    private readonly evicted: (value: Value) => void = () => {},
  ) {}

  get(key: string): Value | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Re-inserting moves the entry to the young end of the Map's insertion order.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Keeps `value` unless it alone is larger than the cache (then it is `evicted` at once). */
  set(key: string, value: Value): void {
    if (value.bytes > this.maxBytes) {
      this.evicted(value);
      return;
    }
    this.delete(key);
    this.entries.set(key, value);
    this.total += value.bytes;
    for (const [oldest, old] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.total -= old.bytes;
      this.evicted(old);
    }
  }

  /** Adds `extraBytes` to an entry's size (its gzip form was added) and evicts older ones if needed. */
  grew(key: string, extraBytes: number): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.total -= value.bytes;
    value.bytes += extraBytes;
    this.set(key, value);
  }

  private delete(key: string): void {
    const existing = this.entries.get(key);
    if (existing === undefined) return;
    this.entries.delete(key);
    this.total -= existing.bytes;
    this.evicted(existing);
  }
}
