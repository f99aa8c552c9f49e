import { InvalidRequestError } from '../errors.js';

/** An RFC 9457 problem: what the admin API answers for every error. */
interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: ReadonlyArray<{ path: string; message: string }>;
}

/** One stable `type` per kind of error, by status: clients branch on it, not on the text. */
const KINDS: Record<number, [slug: string, title: string]> = {
  400: ['invalid-request', 'The request is not valid'],
  401: ['unauthorized', 'A valid bearer token is needed'],
  403: ['forbidden', 'This token may not do that'],
  404: ['not-found', 'Not found'],
  405: ['method-not-allowed', 'Method not allowed'],
  409: ['conflict', 'It exists already'],
  410: ['gone', 'Gone'],
  413: ['payload-too-large', 'The body is too large'],
  414: ['uri-too-long', 'The path or query is too long'],
  415: ['unsupported-media-type', 'The body must be application/json'],
  422: ['idempotency-key-reused', 'The Idempotency-Key was used for another request'],
  429: ['too-many-requests', 'Too many failed attempts from this address'],
  503: ['unavailable', 'Busy or unavailable, try again shortly'],
};

/** The problem for an error already mapped to `status`, with the plain reason the error handler chose as detail. */
export function problemOf(error: unknown, status: number, detail: string): Problem {
  const [slug, title] = KINDS[status] ?? (status >= 500 ? ['internal', 'Internal error'] : ['client-error', 'Bad request']);
  return {
    type: `urn:lineup:problem:${slug}`,
    title,
    status,
    detail,
    ...(error instanceof InvalidRequestError ? { errors: error.fields } : {}),
  };
}
