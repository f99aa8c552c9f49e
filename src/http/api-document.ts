import type * as z from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import type { Operation } from './api-operations.js';
import { IdempotencyHeader, Problem } from './api-schemas.js';

/** Where the admin API lives, on the admin listener. */
export const API_BASE = '/api/v1';

/** Every operation may answer these: a request its schema refuses, no valid token, an address blocked for guessing. */
const COMMON_PROBLEMS = [400, 401, 429];

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'the request is not valid (an unknown field, a value out of its limits, a bad date)',
  401: 'no bearer token, or one that is not known',
  403: 'a read-only token asked for a write',
  404: 'no such subscriber',
  409: 'the username is taken',
  415: 'the body is not application/json',
  422: 'the Idempotency-Key was used for another request',
  429: 'too many failed tokens or playlist keys from this address: wait Retry-After seconds',
};

function operationObject(operation: Operation): ZodOpenApiOperationObject {
  const problems = [...new Set([...COMMON_PROBLEMS, ...operation.problems])].sort();
  const requestParams = {
    // Each is a z.strictObject (api-schemas.ts); the operation's type keeps only what it parses to.
    ...(operation.params ? { path: operation.params as z.ZodObject } : {}),
    ...(operation.query ? { query: operation.query as z.ZodObject } : {}),
    ...(operation.write ? { header: IdempotencyHeader } : {}),
  };
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    tags: [operation.tag],
    ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
    ...(operation.body ? { requestBody: { required: true, content: { 'application/json': { schema: operation.body } } } } : {}),
    responses: {
      [operation.success.status]: {
        description: operation.success.description,
        ...(operation.success.schema ? { content: { 'application/json': { schema: operation.success.schema } } } : {}),
      },
      ...Object.fromEntries(
        problems.map((status) => [
          status,
          { description: PROBLEM_DESCRIPTIONS[status] ?? 'an error', content: { 'application/problem+json': { schema: Problem } } },
        ]),
      ),
    },
  };
}

/** The OpenAPI 3.1 document, generated from the operations' own zod schemas. */
export function apiDocument(operations: readonly Operation[], serverUrl: string): object {
  const paths: ZodOpenApiPathsObject = {};
  for (const operation of operations) {
    const path = `${API_BASE}${operation.path}`;
    paths[path] = { ...paths[path], [operation.method]: operationObject(operation) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Lineup admin API',
      version: '1.0.0',
      description:
        'Create, renew, suspend and inspect subscribers from a billing system. Every write runs in one transaction, ' +
        'answers the new state, honours Idempotency-Key (a retry with the same key and body gets the first answer; ' +
        'keys are kept at least 24 hours) and leaves a row in the audit trail. Errors are application/problem+json ' +
        '(RFC 9457) with a stable type.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: serverUrl, description: 'this admin listener' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'Subscribers', description: 'lines, their terms, packages and playlist URLs' },
      { name: 'Sessions', description: 'who is watching now, as the auth backend counts (max_connections)' },
      { name: 'Lineup', description: 'packages, channels and lint findings, read only' },
      { name: 'Audit', description: 'who changed what, from the API, the CLI or lineup sql' },
    ],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a token from lineup api-token add NAME [--read-only]' },
      },
    },
    paths,
  });
}
