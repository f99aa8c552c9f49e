/**
 * A bounded map whose values each belong to one subscriber, so that a cache that follows the
 * subscriber change log can forget an entry by the subscriber's id. One key per subscriber: a
 * subscriber remembered under a new key (found by a rotated key, a renamed username, a new
 * password) is forgotten under the old one.
 */
export class RememberedBySubscriber<K, V extends { id: number }> {
  private readonly byKey = new Map<K, V>();
  /** The key each remembered subscriber is under, to forget it by id. */
  private readonly keyById = new Map<number, K>();

  constructor(private readonly maxEntries: number) {}

  get(key: K): V | undefined {
    return this.byKey.get(key);
  }

  remember(key: K, value: V): void {
    // The first remembered is the first forgotten: a Map iterates in insertion order.
    if (this.byKey.size >= this.maxEntries) this.forgetKey(this.byKey.keys().next().value!);
    // Found by another key in the same turn (one read before a rotation or rename committed, one
    // after): keep the newer only, so that forgetting it by id leaves no stale entry behind.
    const previous = this.keyById.get(value.id);
    if (previous !== undefined) this.forgetKey(previous);
    this.byKey.set(key, value);
    this.keyById.set(value.id, key);
  }

  forgetSubscriber(id: number): void {
    const key = this.keyById.get(id);
    if (key !== undefined) this.forgetKey(key);
  }

  clear(): void {
    this.byKey.clear();
    this.keyById.clear();
  }

  private forgetKey(key: K): void {
    const value = this.byKey.get(key);
    if (value === undefined) return;
    this.byKey.delete(key);
    if (this.keyById.get(value.id) === key) this.keyById.delete(value.id);
  }
}
