import type { Context } from 'koa';
import { BadInputError } from '../errors.js';

/** The admin API's bodies are small objects; the limit is said in its document's 413. */
const MAX_JSON_BYTES = 64 * 1024;

/** A request's JSON body. @throws 415 unless it is application/json, 413 past the limit, BadInputError if it does not parse. */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  if (!ctx.request.is('application/json')) ctx.throw(415, 'send a JSON body with Content-Type: application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) {
      ctx.set('Connection', 'close');
      ctx.throw(413, `the body is over ${MAX_JSON_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadInputError('the body is not valid JSON');
  }
}

/** JSON with object keys sorted: the same request sent with its fields in another order is the same request. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
