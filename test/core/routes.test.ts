import { describe, expect, it } from 'vitest';
import {
  canonicalPath,
  isKeyedPath,
  isXtreamPath,
  loggablePath,
  parsePlayChannel,
  parsePlayLiveFile,
  parseXcLiveFile,
  playArchiveUrl,
  playLiveUrl,
  playlistKeyOf,
  playlistUrl,
  xcLiveUrl,
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

  it('when a key starting with a digit is sent in a spelling that decodes to the shape of a legacy XC link, then the key is not logged', () => {
    const key = `7${KEY.slice(1)}`;
    for (const path of [`/x/playlist%2F${key}.m3u`, `/x/play%2F${key}/1.m3u8`, `/${key}/playlist/1.m3u`, `/x/y/${key}.m3u`]) {
      expect(loggablePath(path), path).not.toContain(key);
    }
  });

  it('when an XC link is built, then it parses back, is guarded, and is logged without its password in any spelling', () => {
    const url = xcLiveUrl('http://lineup.test', 'alice', 'k7mq3xw9dp', 12, 'ts');
    expect(url).toBe('http://lineup.test/live/alice/k7mq3xw9dp/12.ts');
    expect(parseXcLiveFile('12.ts')).toEqual({ channelId: 12, format: 'ts' });
    expect(parseXcLiveFile('12.m3u8')).toEqual({ channelId: 12, format: 'hls' });
    expect(parseXcLiveFile('12')).toEqual({ channelId: 12, format: 'ts' });
    expect(parseXcLiveFile('12.mp4')).toBeUndefined();
    for (const path of [
      '/live/alice/k7mq3xw9dp/12.ts',
      '/LIVE/alice/k7mq3xw9dp/12.m3u8',
      '//live//alice/k7mq3xw9dp/12.ts',
      '/timeshift/alice/k7mq3xw9dp/60/2026-01-02:03-04/12.ts',
      '/alice/k7mq3xw9dp/12',
      '/alice/k7mq3xw9dp/12.ts',
    ]) {
      expect(isXtreamPath(canonicalPath(path)), path).toBe(true);
      expect(loggablePath(path), path).not.toContain('k7mq3xw9dp');
      expect(loggablePath(path), path).toContain('alice');
    }
    for (const path of ['/player_api.php', '/get.php', '/xmltv.php', '/PLAYER_API.php'])
      expect(isXtreamPath(canonicalPath(path)), path).toBe(true);
    for (const path of ['/healthz', '/epg.xml', '/a/b/c', '/a/b/12.m3u8', '/healthz/b/12'])
      expect(isXtreamPath(canonicalPath(path)), path).toBe(false);
  });
});
