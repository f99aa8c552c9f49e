import { expect } from 'vitest';
import { type FetchResult, fetchFrom } from '../helpers/lineup.js';

/** The playlist key inside a playlist URL (`…/playlist/KEY.m3u`). */
export function keyOf(playlistUrl: string): string {
  const match = /\/playlist\/([^/.]+)\.m3u8?$/.exec(new URL(playlistUrl).pathname);
  if (!match) throw new Error(`not a playlist URL: ${playlistUrl}`);
  return match[1]!;
}

/** A `/play` request from `localAddress` that must be a 302; returns the signed origin URL. */
export async function redirectFrom(url: string, localAddress = '127.0.0.1'): Promise<{ location: string; response: FetchResult }> {
  const response = await fetchFrom(url, { localAddress });
  expect(response.status, response.body).toBe(302);
  expect(response.headers['cache-control']).toBe('no-store');
  const location = response.headers.location;
  expect(typeof location).toBe('string');
  return { location: location as string, response };
}
