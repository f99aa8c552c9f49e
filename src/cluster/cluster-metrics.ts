import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { UnavailableError } from '../errors.js';

/**
 * `/metrics` for WORKERS > 1. A scrape lands on one worker, but Prometheus needs the counters of
 * every process, or a rate would jump with each scrape. The worker asks the primary, which collects
 * every worker's registry and its own (the prune job's counters) and sums them.
 */

/** Worker → primary: a scrape arrived. Primary → worker: the cluster's metrics as text. */
const SCRAPE = 'lineup:metrics:scrape';
const SCRAPED = 'lineup:metrics:scraped';
/** Primary → worker: send your registry. Worker → primary: here it is, as JSON. */
const COLLECT = 'lineup:metrics:collect';
const COLLECTED = 'lineup:metrics:collected';

/** A worker that does not answer in time (busy or dying) is left out of that scrape. */
const ANSWER_TIMEOUT_MS = 2000;

interface Message {
  type?: string;
  id?: string;
  text?: string;
  metrics?: object;
}

export interface WorkerMetrics {
  /** The whole cluster's metrics in the Prometheus text format. */
  text(): Promise<string>;
  /** Stops answering the primary. */
  close(): void;
}

/** In a worker: answers the primary's collection requests, and asks it for the cluster's metrics on a scrape. */
export function workerMetrics(registry: Registry): WorkerMetrics {
  const waiting = new Map<string, (text: string) => void>();
  const onMessage = (message: Message) => {
    if (message.type === COLLECT) {
      void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics }));
    } else if (message.type === SCRAPED && message.id !== undefined) {
      waiting.get(message.id)?.(message.text ?? '');
      waiting.delete(message.id);
    }
  };
  process.on('message', onMessage);
  return {
    text: () =>
      new Promise((resolve, reject) => {
        const id = randomUUID();
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new UnavailableError('Metrics are unavailable for a moment; try again'));
        }, ANSWER_TIMEOUT_MS * 2);
        waiting.set(id, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        process.send?.({ type: SCRAPE, id });
      }),
    close: () => process.off('message', onMessage),
  };
}

/** In the primary: answers workers' scrapes with every worker's metrics and the primary's own. */
export function serveClusterMetrics(primaryRegistry: Registry): () => void {
  const pending = new Map<string, (metrics: object) => void>();

  const collect = async (): Promise<object[]> => {
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker?.isConnected());
    const answers = workers.map(
      (worker) =>
        new Promise<object | undefined>((resolve) => {
          const id = randomUUID();
          const timer = setTimeout(() => {
            pending.delete(id);
            resolve(undefined);
          }, ANSWER_TIMEOUT_MS);
          pending.set(id, (metrics) => {
            clearTimeout(timer);
            resolve(metrics);
          });
          worker!.send({ type: COLLECT, id });
        }),
    );
    const collected = (await Promise.all(answers)).filter((metrics) => metrics !== undefined);
    return [...collected, await primaryRegistry.getMetricsAsJSON()];
  };

  const onMessage = (worker: { send(message: Message): boolean }, message: Message) => {
    if (message.type === COLLECTED && message.id !== undefined) {
      pending.get(message.id)?.(message.metrics ?? []);
      pending.delete(message.id);
    } else if (message.type === SCRAPE) {
      void collect()
        .then((all) => AggregatorRegistry.aggregate(all).metrics())
        .then((text) => worker.send({ type: SCRAPED, id: message.id, text }));
    }
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}
