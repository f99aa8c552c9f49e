import type { Context } from 'koa';

/** Far more than any XC client posts (a username, a password, an action and two ids). */
const MAX_FORM_BYTES = 4 * 1024;

/**
 * The fields of a POST's form-encoded body (IPTV Smarters posts its login), or none for another
 * method or type. A body past MAX_FORM_BYTES is refused with 413 rather than read on.
 */
export async function formFields(ctx: Context): Promise<URLSearchParams> {
  if (ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded')) return new URLSearchParams();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) ctx.throw(413, 'Body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
