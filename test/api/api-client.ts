import { expect } from 'vitest';
import type { Clock } from '../../src/time.js';
import { lastLine, startTestLineup, type TestLineup } from '../helpers/lineup.js';

/** A test Lineup with its admin listener on 127.0.0.1:0, and a read-write token (`billing` unless named). */
export interface ApiLineup extends TestLineup {
  adminUrl: string;
  token: string;
  /** A request to the admin API; `token: null` sends none. */
  api(method: string, path: string, options?: ApiOptions): Promise<ApiResponse>;
  /** Makes another token through the CLI and returns it. */
  addToken(name: string, ...flags: string[]): Promise<string>;
}

interface ApiOptions {
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
}

interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty body. */
  // biome-ignore lint/suspicious/noExplicitAny: an answer's JSON, which each test's assertions check
  json: any;
}

export async function startApiLineup(options: { env?: NodeJS.ProcessEnv; clock?: Clock; tokenName?: string } = {}): Promise<ApiLineup> {
  const lineup = await startTestLineup({
    ...(options.clock ? { clock: options.clock } : {}),
    env: { ADMIN_PORT: '0', ...options.env },
  });
  const adminUrl = lineup.adminUrl!;
  const addToken = async (name: string, ...flags: string[]) => {
    const result = await lineup.cli(['api-token', 'add', name, ...flags]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return lastLine(result.stdout);
  };
  const token = await addToken(options.tokenName ?? 'billing');
  const api = async (method: string, path: string, { body, token: bearer = token, headers = {} }: ApiOptions = {}) => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      headers: {
        ...(bearer !== null ? { Authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text === '' ? undefined : JSON.parse(text) };
  };
  return { ...lineup, adminUrl, token, api, addToken };
}
