import { describe, expect, it } from 'vitest';
import {
  isKeyedPath,
  loggablePath,
  parsePlayChannel,
  parsePlayLiveFile,
  playArchiveUrl,
  playLiveUrl,
  playlistKeyOf,
  playlistUrl,
} from '../../src/routes.js';

const KEY = 'AbCdEfGhIjKlMnOpQrStUv_-';
const lastSegment = (url: string) => new URL(url).pathname.split('/').at(-1)!;

describe('the routes module', () => {
  it('when a playlist URL is built, then its file name parses back to the key, for .m3u and .m3u8', () => {
    const url = playlistUrl('https://iptv.example.com', KEY);
    expect(url).toBe(`https://iptv.example.com/playlist/${KEY}.m3u`);
    expect(playlistKeyOf(lastSegment(url))).toBe(KEY);
    expect(playlistKeyOf(`${KEY}.m3u8`)).toBe(KEY);
    expect(playlistKeyOf(`${KEY}.txt`)).toBeUndefined();
  });

  it('when a live /play link is built, then its file parses back to the channel and format', () => {
    for (const format of ['hls', 'ts'] as const) {
      const url = playLiveUrl('http://lineup.test', KEY, 42, format);
      expect(parsePlayLiveFile(lastSegment(url))).toEqual({ channelId: 42, format });
    }
    expect(parsePlayLiveFile('42.mp4')).toBeUndefined();
    expect(parsePlayLiveFile('x.m3u8')).toBeUndefined();
  });

  it('when an archive /play link is built, then its channel segment parses back', () => {
    const segments = new URL(playArchiveUrl('http://lineup.test', KEY, 7, 'timeshift_abs-1700000000.ts')).pathname.split('/');
    expect(segments).toEqual(['', 'play', KEY, '7', 'timeshift_abs-1700000000.ts']);
    expect(parsePlayChannel(segments[3]!)).toBe(7);
    expect(parsePlayChannel('7a')).toBeUndefined();
  });

  it('when a built link is logged, then it is known as keyed and its key is replaced', () => {
    for (const url of [playlistUrl('http://x', KEY), playLiveUrl('http://x', KEY, 1, 'hls'), playArchiveUrl('http://x', KEY, 1, 'f.ts')]) {
      const path = new URL(url).pathname;
      expect(isKeyedPath(path)).toBe(true);
      expect(loggablePath(path)).not.toContain(KEY);
    }
    expect(isKeyedPath('/healthz')).toBe(false);
  });
});
