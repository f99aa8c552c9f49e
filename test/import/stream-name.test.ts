import { describe, expect, it } from 'vitest';
import { streamFromUrl, streamNameProblem } from '../../src/import/stream-name.js';

describe('streamFromUrl', () => {
  it.each([
    ['http://fl.example:80/bbc-one/index.m3u8', 'bbc-one'],
    ['http://fl.example/bbc-one/video.m3u8', 'bbc-one'],
    ['http://fl.example/bbc-one/mono.m3u8', 'bbc-one'],
    ['http://fl.example/bbc-one/mpegts', 'bbc-one'],
    ['http://fl.example/bbc-one/index.mpd', 'bbc-one'],
    ['https://fl.example/live/ch1/index.m3u8', 'live/ch1'],
    ['http://fl.example/live/news/ch1/mpegts', 'live/news/ch1'],
    ['http://fl.example/live/ch1/index.m3u8?token=abc-def-1-2&x=1', 'live/ch1'],
    ['http://fl.example/caf%C3%A9/index.m3u8', 'café'],
    // Some panels export the file part in capitals; the stream name keeps its case, which the server matches exactly.
    ['http://FL.EXAMPLE/Live/BBC-One/INDEX.M3U8', 'Live/BBC-One'],
    ['http://fl.example/bbc-one/Video.M3u8', 'bbc-one'],
    ['http://fl.example/bbc-one/MONO.M3U8', 'bbc-one'],
    ['http://fl.example/bbc-one/MPEGTS', 'bbc-one'],
    ['http://fl.example/bbc-one/Index.MPD', 'bbc-one'],
  ])('when the URL is %s, then the stream is %s', (url, stream) => {
    expect(streamFromUrl(url)).toBe(stream);
  });

  it.each([
    'http://fl.example/index.m3u8',
    'http://fl.example/bbc-one',
    'http://fl.example/bbc-one/playlist.m3u8',
    'udp://239.0.0.1:1234',
    'not a url',
    'http://fl.example/%E0%A4%A/index.m3u8',
  ])('when the URL is %s, then no stream is derived', (url) => {
    expect(streamFromUrl(url)).toBeUndefined();
  });
});

describe('streamNameProblem', () => {
  it('when the name is nested and plain, then there is no problem', () => {
    expect(streamNameProblem('live/ch1')).toBeUndefined();
  });

  it.each(['', '  ', '/abs', 'a b', 'a?b', 'a#b', 'a"b', 'a//b', 'a/../b', 'tab\there'])(
    'when the name is %j, then a problem is reported',
    (stream) => {
      expect(streamNameProblem(stream)).toBeTypeOf('string');
    },
  );
});
