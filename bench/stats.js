/** Runs `fn` `iterations` times after a warm-up and returns median and p99 in milliseconds. */
export function measure(fn, iterations) {
  for (let i = 0; i < Math.min(50, iterations); i++) fn();
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    fn();
    samples[i] = performance.now() - started;
  }
  samples.sort();
  return { median: samples[Math.floor(iterations / 2)], p99: samples[Math.min(iterations - 1, Math.floor(iterations * 0.99))] };
}

export const round = (value, digits = 3) => Number(value.toFixed(digits));

/** The item whose `value` is the median (the lower middle of an even count). */
export function median(items, value) {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
