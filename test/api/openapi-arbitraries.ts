import fc from 'fast-check';

/** A JSON Schema as an OpenAPI 3.1 document holds it: the keywords the fuzzer understands. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  examples?: unknown[];
}

/**
 * Values for a schema of the served document, built by fast-check: mostly values the schema
 * allows (with its examples mixed in, so that requests also reach the happy paths), and with
 * `wild`, now and then values it does not (a field of another type, an unknown field, a missing
 * required one), which the API must refuse with a documented 4xx.
 */
export function arbitraryFor(schema: Schema, resolve: (ref: string) => Schema, wild: boolean): fc.Arbitrary<unknown> {
  const valid = validFor(schema, resolve, wild);
  return wild ? fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }) : valid;
}

function validFor(schema: Schema, resolve: (ref: string) => Schema, wild: boolean): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryFor(resolve(schema.$ref), resolve, wild);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((inner) => arbitraryFor(inner, resolve, wild)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const examples = schema.examples && schema.examples.length > 0 ? fc.constantFrom(...schema.examples) : undefined;
  const generated = generatedFor(schema, resolve, wild);
  return examples ? fc.oneof({ weight: 3, arbitrary: examples }, { weight: 1, arbitrary: generated }) : generated;
}

function generatedFor(schema: Schema, resolve: (ref: string) => Schema, wild: boolean): fc.Arbitrary<unknown> {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      return fc.string({ unit: 'grapheme', minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 80, 80) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryFor(schema.items ?? {}, resolve, wild), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 5, 5),
      });
    case 'object': {
      const properties = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([name, inner]) => [name, arbitraryFor(inner, resolve, wild)]),
      );
      const object = fc.record(properties, { requiredKeys: schema.required ?? [] });
      if (!wild) return object;
      return fc.oneof(
        { weight: 12, arbitrary: object },
        {
          weight: 1,
          arbitrary: fc.tuple(object, fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue()).map(([o, k, v]) => ({ ...o, [k]: v })),
        },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
