import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySql } from '../core/support.js';
import { type ApiLineup, startApiLineup } from './api-client.js';
import { arbitraryFor, type Schema } from './openapi-arbitraries.js';

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: Schema;
}

interface OperationObject {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

interface Document {
  paths: Record<string, Record<string, OperationObject>>;
}

interface Call {
  method: string;
  template: string;
  operation: OperationObject;
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  body: unknown;
  token: 'valid' | 'read-only' | 'wrong' | 'none';
}

let lineup: ApiLineup;
let document: Document;
let readOnly: string;
beforeAll(async () => {
  // Generous: the fuzzer sends wrong tokens on purpose, and must not lock itself out.
  lineup = await startApiLineup({ env: { GUESS_LIMIT: '100000' } });
  readOnly = await lineup.addToken('fuzz-reader', '--read-only');
  await applySql(lineup, "INSERT INTO packages (name) VALUES ('sports'); INSERT INTO channels (stream, name) VALUES ('news', 'News');");
  for (const username of ['alice', 'bob']) await lineup.api('POST', '/api/v1/subscribers', { body: { username, packages: ['sports'] } });
  const served = await fetch(`${lineup.adminUrl}/api/v1/openapi.json`);
  expect(served.status).toBe(200);
  document = (await served.json()) as Document;
}, 60_000);
afterAll(() => lineup?.close());

/** A JSON pointer into the document, for Ajv to resolve against the document it holds. */
const pointer = (...segments: string[]) => `openapi.json#/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

function resolver(doc: Document) {
  return (ref: string): Schema => {
    const segments = ref.replace(/^#\//, '').split('/');
    return segments.reduce<unknown>(
      (node, segment) => (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')],
      doc,
    ) as Schema;
  };
}

function callArbitrary(doc: Document): fc.Arbitrary<Call> {
  const resolve = resolver(doc);
  const operations = Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ template, method, operation })),
  );
  return fc.constantFrom(...operations).chain(({ template, method, operation }) => {
    const parameters = (location: Parameter['in']) => {
      const chosen = (operation.parameters ?? []).filter((parameter) => parameter.in === location);
      return fc.record(
        Object.fromEntries(
          chosen.map((parameter) => [
            parameter.name,
            // Path names: mostly subscribers that exist, so that writes get past the lookup.
            location === 'path'
              ? fc.oneof(fc.constantFrom('alice', 'bob'), arbitraryFor(parameter.schema, resolve, true))
              : arbitraryFor(parameter.schema, resolve, location === 'query'),
          ]),
        ),
        { requiredKeys: chosen.filter((parameter) => parameter.required || location === 'path').map((parameter) => parameter.name) },
      );
    };
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    return fc.record({
      method: fc.constant(method),
      template: fc.constant(template),
      operation: fc.constant(operation),
      path: parameters('path'),
      query: parameters('query'),
      headers: parameters('header'),
      body: bodySchema ? arbitraryFor(bodySchema, resolve, true) : fc.constant(undefined),
      token: fc.constantFrom<Call['token']>('valid', 'valid', 'valid', 'valid', 'read-only', 'wrong', 'none'),
    });
  });
}

/** A value as text in a URL: segments keep no dot that URL parsing would take for `.` or `..`. */
const segment = (value: unknown) => encodeURIComponent(String(value)).replaceAll('.', '%2E');

async function send(call: Call) {
  const url = new URL(`${lineup.adminUrl}${call.template.replace(/\{(\w+)\}/g, (_, name: string) => segment(call.path[name]))}`);
  for (const [name, value] of Object.entries(call.query)) {
    url.searchParams.set(name, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));
  }
  const token = { valid: lineup.token, 'read-only': readOnly, wrong: 'lineup_not-a-token', none: undefined }[call.token];
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(call.headers)) headers[name] = String(value);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (call.body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(url, {
    method: call.method.toUpperCase(),
    headers,
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  });
}

describe('the admin API against its own OpenAPI document', () => {
  it('when requests generated from the served document are sent, then no answer is a 5xx and every answer matches the document', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    // A CommonJS module: its plugin is on `default`.
    formats.default(ajv);
    ajv.addSchema(document, 'openapi.json');
    const statuses = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(callArbitrary(document), async (call) => {
        const response = await send(call);
        const text = await response.text();
        const where = `${call.method.toUpperCase()} ${call.template} → ${response.status} ${text.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        const documented = call.operation.responses[String(response.status)];
        expect(documented, `${where}: status not in the document`).toBeDefined();
        // A deleted subscriber comes back, so that later calls still find someone to change.
        if (response.status === 204) await lineup.api('POST', '/api/v1/subscribers', { body: { username: call.path.username } });
        const key = `${call.method} ${call.template}`;
        statuses.set(key, (statuses.get(key) ?? new Set()).add(response.status));
        if (!documented!.content) {
          expect(text, where).toBe('');
          return;
        }
        const type = (response.headers.get('content-type') ?? '').split(';')[0]!;
        expect(Object.keys(documented!.content), where).toContain(type);
        const validate =
          ajv.getSchema(pointer('paths', call.template, call.method, 'responses', String(response.status), 'content', type, 'schema')) ??
          ajv.compile({
            $ref: pointer('paths', call.template, call.method, 'responses', String(response.status), 'content', type, 'schema'),
          });
        const valid = validate(JSON.parse(text));
        expect(valid, `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }),
      // A fixed seed by default, so that CI's coverage check below is the same each run; FUZZ_SEED explores others.
      { numRuns: 600, seed: Number(process.env.FUZZ_SEED ?? 18) },
    );
    // The fuzzer reached past validation: each operation answered its success status at least once.
    for (const [template, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const success = Object.keys(operation.responses).find((status) => status.startsWith('2'))!;
        expect([`${method} ${template}`, [...(statuses.get(`${method} ${template}`) ?? [])]]).toEqual([
          `${method} ${template}`,
          expect.arrayContaining([Number(success)]),
        ]);
      }
    }
  }, 180_000);
});
