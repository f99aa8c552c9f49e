import { hash } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type * as z from 'zod';
import type { ApiToken } from '../api-tokens/api-tokens.js';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import { bearerAuth } from './api-auth.js';
import { API_BASE, apiDocument } from './api-document.js';
import { OPERATIONS, type Operation } from './api-operations.js';
import { referenceAsset, referencePage } from './api-reference.js';
import type { ApiRunner } from './api-runner.js';
import { IdempotencyHeader } from './api-schemas.js';
import type { GuessLimiter } from './guess-limiter.js';
import { canonicalJson, readJsonBody } from './json-body.js';

export interface AdminApiDependencies {
  /** Checks tokens and runs the operations: in the call on SQLite, on the admin thread on PostgreSQL. */
  runner: ApiRunner;
  /** The public listener's: a wrong token and a wrong playlist key count alike. */
  guessLimiter: GuessLimiter;
}

/** @throws InvalidRequestError naming each field at fault, `where` first (path, query, header, body). */
function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message }));
  throw new InvalidRequestError(`${fields[0]!.path}: ${fields[0]!.message}`, fields);
}

function answer(ctx: Context, status: number, body: string | undefined): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (body !== undefined) {
    ctx.type = 'application/json';
    ctx.body = body;
  }
}

function handler(operation: Operation, dependencies: AdminApiDependencies) {
  return async (ctx: Context) => {
    const token = ctx.state.apiToken as ApiToken;
    const params = operation.params ? validate(operation.params, { ...ctx.params }, 'path') : undefined;
    const query = operation.query ? validate(operation.query, { ...ctx.query }, 'query') : undefined;
    const body = operation.body ? validate(operation.body, await readJsonBody(ctx), 'body') : undefined;
    const input = { params, query, body, token };
    const { operationId } = operation;
    if (!operation.write) {
      const { answer: read } = await dependencies.runner.run({ operationId, input });
      answer(ctx, read.status, read.body);
      return;
    }
    const { 'idempotency-key': idempotencyKey } = validate(
      IdempotencyHeader,
      { 'idempotency-key': ctx.get('Idempotency-Key') || undefined },
      'header',
    );
    const { answer: stored, replayed } = await dependencies.runner.run({
      operationId,
      input,
      write: {
        actor: `api:${token.name}`,
        tokenId: token.id,
        idempotencyKey,
        requestHash: hash('sha256', canonicalJson([ctx.method, ctx.path, body ?? null])),
      },
    });
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    answer(ctx, stored.status, stored.body);
  };
}

/**
 * `/api/v1`: the document and its reference page for anyone who reaches the admin listener, every
 * operation behind a bearer token. Errors under it are `application/problem+json`.
 */
export function adminApi(dependencies: AdminApiDependencies) {
  const router = new Router({ prefix: API_BASE });
  for (const operation of OPERATIONS) {
    router[operation.method](operation.path.replace(/\{(\w+)\}/g, ':$1'), handler(operation, dependencies));
  }
  const routes = router.routes();
  const auth = bearerAuth(dependencies.runner, dependencies.guessLimiter);
  let document: string | undefined;

  return async function serveApi(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== API_BASE && !ctx.path.startsWith(`${API_BASE}/`)) return next();
    ctx.state.problemJson = true;
    const rest = ctx.path.slice(API_BASE.length);
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      if (rest === '/openapi.json') {
        // The servers entry names the listener as the client reached it; the rest never changes.
        document ??= JSON.stringify(apiDocument(OPERATIONS, '/'));
        answer(ctx, 200, document);
        return;
      }
      if (rest === '/docs' || rest === '/docs/') {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = referencePage(API_BASE);
        return;
      }
      const asset = rest.startsWith('/docs/') ? referenceAsset(rest.slice('/docs/'.length)) : undefined;
      if (asset) {
        ctx.type = asset.type;
        ctx.set('Cache-Control', 'public, max-age=3600');
        ctx.body = asset.body;
        return;
      }
    }
    await auth(ctx, () => routes(ctx as Parameters<typeof routes>[0], async () => {}));
    if (ctx.body === undefined && ctx.status === 404)
      throw new NotFoundError(`no operation ${ctx.method} ${ctx.path} (see ${API_BASE}/docs)`);
  };
}
