import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { secureLinkMd5 } from '../../src/signing/nginx-secure-link.js';
import type { Origin } from '../../src/signing/origin.js';
import { NO_CHECK_IP, securetoken } from '../../src/signing/securetoken.js';
import { signStreamUrl } from '../../src/signing/sign.js';

// The securetoken spec's common inputs, whose expected tokens are published with it.
const KEY = 'SECRETKEY';
const SALT = '0123456789abcdef0123456789abcdef';
const START = 1700000000;
const END = 1700010800;
const DESYNC = 300;
const TTL = END - START;
const NOW = START + DESYNC;

const VECTORS = [
  { id: 'V1', stream: 'bbc', ip: '192.168.1.10', token: `f9684e322279e99e2fce552c463e282bd402bced-${SALT}-${END}-${START}` },
  { id: 'V2', stream: 'bbc', ip: 'no_check_ip', token: `1826aec6157eed8bf196ffac10457cca42fe0911-${SALT}-${END}-${START}` },
  { id: 'V3', stream: 'live/ch1', ip: '203.0.113.7', token: `f0f9b8238bf84f88acb51d9a519caacf19f232a5-${SALT}-${END}-${START}` },
  { id: 'V5', stream: 'bbc', ip: '2001:db8::1', token: `bfa12f8d260a598f1db2bb2079b7dfddcb0a46c3-${SALT}-${END}-${START}` },
] as const;

const CESBO = {
  subject: '/tv/travel-channel/index.m3u8',
  ip: '192.168.88.98',
  key: 'secret',
  salt: 'a5cd6c00',
  starttime: 1669810000,
  endtime: 1669890000,
  token: 'e8bff06f373694dda657e8417fe76f6b54b69807-a5cd6c00-1669890000-1669810000',
};

function origin(overrides: Partial<Origin> = {}): Origin {
  return {
    name: 'default',
    baseUrl: 'http://flussonic:80',
    scheme: 'flussonic',
    secret: KEY,
    ipBinding: 'strict',
    hashSubject: 'stream',
    tokenTtl: TTL,
    tokenDesync: DESYNC,
    ...overrides,
  };
}

const tokenOf = (url: string) => new URL(url).searchParams.get('token');

describe('securetoken()', () => {
  it.each(VECTORS)('when given the inputs of $id, then it returns the spec token byte for byte', ({ stream, ip, token }) => {
    expect(securetoken({ subject: stream, ip, starttime: START, endtime: END, key: KEY, salt: SALT })).toBe(token);
  });

  it('when given the Cesbo path-subject vector, then it returns the published token', () => {
    expect(securetoken(CESBO)).toBe(CESBO.token);
  });

  describe('negative cases differ from V1', () => {
    const v1 = VECTORS[0];
    const base = { subject: v1.stream, ip: v1.ip, starttime: START, endtime: END, key: KEY, salt: SALT };

    it('when the stream has a leading slash, then the token differs', () => {
      expect(securetoken({ ...base, subject: '/bbc' })).not.toBe(v1.token);
    });

    it('when the IP is written ::ffff:-mapped, then the token differs', () => {
      expect(securetoken({ ...base, ip: '::ffff:192.168.1.10' })).not.toBe(v1.token);
    });

    it('when the digest is written in uppercase hex, then it is not the spec token', () => {
      const upper = createHash('sha1').update(`bbc192.168.1.10${START}${END}${KEY}${SALT}`).digest('hex').toUpperCase();
      expect(`${upper}-${SALT}-${END}-${START}`).not.toBe(v1.token);
      // and the signer itself emits lowercase
      expect(securetoken(base)).toMatch(/^[0-9a-f]{40}-/);
    });

    it('when start and end are swapped, then the token differs', () => {
      expect(securetoken({ ...base, starttime: END, endtime: START })).not.toBe(v1.token);
      // end precedes start on the wire
      expect(securetoken(base).endsWith(`-${END}-${START}`)).toBe(true);
    });
  });
});

describe('signStreamUrl() with a Flussonic origin', () => {
  it.each(VECTORS.filter((v) => v.ip !== 'no_check_ip'))(
    'when signing $id at now = start + desync, then the URL carries the spec token',
    ({ stream, ip, token }) => {
      const url = signStreamUrl(stream, ip, NOW, { origin: origin(), format: 'hls', salt: SALT });
      expect(url).toBe(`http://flussonic:80/${stream}/index.m3u8?token=${token}`);
    },
  );

  it('when IP_BINDING is none, then the literal no_check_ip is hashed (V2) whatever the viewer IP', () => {
    const url = signStreamUrl('bbc', '10.9.8.7', NOW, { origin: origin({ ipBinding: 'none' }), format: 'hls', salt: SALT });
    expect(tokenOf(url)).toBe(VECTORS[1].token);
    expect(NO_CHECK_IP).toBe('no_check_ip');
  });

  it('when the format is ts, then the path is /NAME/mpegts and the token is the same', () => {
    const url = signStreamUrl('live/ch1', '203.0.113.7', NOW, { origin: origin(), format: 'ts', salt: SALT });
    expect(url).toBe(`http://flussonic:80/live/ch1/mpegts?token=${VECTORS[2].token}`);
  });

  it('when the hash subject is path, then the Cesbo vector comes out of a /tv/travel-channel URL', () => {
    const cesboOrigin = origin({
      hashSubject: 'path',
      secret: CESBO.key,
      tokenDesync: 0,
      tokenTtl: CESBO.endtime - CESBO.starttime,
    });
    const url = signStreamUrl('tv/travel-channel', CESBO.ip, CESBO.starttime, { origin: cesboOrigin, format: 'hls', salt: CESBO.salt });
    expect(url).toBe(`http://flussonic:80/tv/travel-channel/index.m3u8?token=${CESBO.token}`);
  });

  it('when the hash subject is id, then only the last path segment of the stream is hashed', () => {
    const url = signStreamUrl('live/ch1', '203.0.113.7', NOW, { origin: origin({ hashSubject: 'id' }), format: 'hls', salt: SALT });
    expect(tokenOf(url)).toBe(securetoken({ subject: 'ch1', ip: '203.0.113.7', starttime: START, endtime: END, key: KEY, salt: SALT }));
    expect(tokenOf(url)).not.toBe(VECTORS[2].token);
  });

  it('when the hash subject is stream, then the full stream name with its slash is hashed', () => {
    const url = signStreamUrl('live/ch1', '203.0.113.7', NOW, { origin: origin({ hashSubject: 'stream' }), format: 'hls', salt: SALT });
    expect(tokenOf(url)).toBe(VECTORS[2].token);
  });

  it('when signing at now, then starttime = now − desync and endtime = starttime + ttl', () => {
    const now = 1_800_000_123;
    const url = signStreamUrl('bbc', '192.168.1.10', now, {
      origin: origin({ tokenTtl: 3600, tokenDesync: 45 }),
      format: 'hls',
      salt: SALT,
    });
    const [, , end, start] = tokenOf(url)!.split('-');
    expect(Number(start)).toBe(now - 45);
    expect(Number(end)).toBe(now - 45 + 3600);
  });
});

describe('nginx secure_link', () => {
  it('when given the spec expression, then secureLinkMd5 returns the spec vector', () => {
    expect(secureLinkMd5({ expires: 1700003600, uri: '/live/ch1/index.m3u8', ip: '192.168.1.10', secret: 'secret' })).toBe(
      'fFFxJ5DN3hNQ7aBTOjFzUA',
    );
  });

  it('when an nginx origin signs, then the URL carries md5 and expires = now + ttl', () => {
    const nginx = origin({ scheme: 'nginx', secret: 'secret', tokenTtl: 3600 });
    const url = new URL(signStreamUrl('live/ch1', '192.168.1.10', 1700000000, { origin: nginx, format: 'hls', salt: SALT }));
    expect(url.pathname).toBe('/live/ch1/index.m3u8');
    expect(url.searchParams.get('expires')).toBe('1700003600');
    expect(url.searchParams.get('md5')).toBe('fFFxJ5DN3hNQ7aBTOjFzUA');
  });
});
