/**
 * What a world started, undone last-first by `stop`. Each step runs on its own: one that fails is
 * reported and the rest still run, so that a failed teardown leaves no nginx or Lineup behind.
 */
export function teardownStack(first: () => Promise<void> | void): { stops: (() => Promise<void> | void)[]; stop: () => Promise<void> } {
  const stops: (() => Promise<void> | void)[] = [first];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error('e2e teardown:', error);
      }
    }
  };
  return { stops, stop };
}
