import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferRecycler } from '../../src/playlist/buffer-recycler.js';
import { type Sha1Batch, Sha1Lanes, sha1Slots } from '../../src/signing/sha1-lanes.js';
import { addSubscriber, applySql, expectAllTokensValid } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';

describe('the output buffer recycler', () => {
  it('when a buffer is given back, then the next take of its size returns that very buffer, and another size a new one', () => {
    const recycler = new BufferRecycler(1000);
    const first = recycler.take(100);
    recycler.give(first);
    expect(recycler.take(200)).not.toBe(first);
    expect(recycler.take(100)).toBe(first);
    expect(recycler.take(100)).not.toBe(first);
    expect(recycler.bytes).toBe(0);
  });

  it('when more bytes come back than it may hold, then the least recently used size goes first and the total stays bounded', () => {
    const recycler = new BufferRecycler(250);
    const a = Buffer.alloc(100);
    const b = Buffer.alloc(120);
    const c = Buffer.alloc(110);
    recycler.give(a);
    recycler.give(b);
    recycler.give(c);
    expect(recycler.bytes).toBe(230);
    expect(recycler.take(100)).not.toBe(a);
    expect(recycler.take(120)).toBe(b);
    expect(recycler.take(110)).toBe(c);
  });

  it('when one buffer alone is larger than the budget, then it is not kept', () => {
    const recycler = new BufferRecycler(50);
    recycler.give(Buffer.alloc(51));
    expect(recycler.bytes).toBe(0);
  });

  it('when the budget is raised to the largest body times the responses in flight, then buffers up to it are kept, and a lower figure never shrinks it', () => {
    const recycler = new BufferRecycler(50);
    recycler.reserve(3 * 60);
    recycler.reserve(10);
    const buffers = [Buffer.alloc(60), Buffer.alloc(60), Buffer.alloc(60)];
    for (const buffer of buffers) recycler.give(buffer);
    expect(recycler.bytes).toBe(180);
    expect(buffers).toContain(recycler.take(60));
  });
});

/** A template of `bytes` with one slot at its start, and the batch that signs it. */
function oneSlot(bytes: number, subject: string): { template: Buffer; batches: Sha1Batch[] } {
  const frame = Buffer.from(`t=${' '.repeat(40)}`, 'latin1');
  const slots = sha1Slots([{ subjectStart: 0, subjectLength: subject.length, fillAt: 0, copyAt: -1 }], [Buffer.from(subject)]);
  return { template: Buffer.alloc(bytes, '~'), batches: [{ slots, fill: { frame, digestAt: 2, suffix: Buffer.from('salt') } }] };
}

describe('kernel instances lent by the recycler', () => {
  it('when a body filled in a lent instance is given back, then the next take of its template is that instance, still holding it, and another template gets the least recently used one', () => {
    const recycler = new BufferRecycler(64 * 1024 * 1024);
    const a = oneSlot(1000, 'a');
    const b = oneSlot(2000, 'b');
    const first = recycler.takeLanes(a.template)!;
    const second = recycler.takeLanes(b.template)!;
    expect(second).not.toBe(first);
    const bodyA = first.fill(a.template, a.batches);
    const bodyB = second.fill(b.template, b.batches);
    expect(Sha1Lanes.owning(bodyA)).toBe(first);
    expect(Sha1Lanes.owning(Buffer.alloc(1000))).toBeUndefined();
    recycler.give(bodyA);
    recycler.give(bodyB);
    expect(recycler.bytes).toBe(1000 + 2000);
    // Given back before the other, but holding the template asked for: that one, not the most recent.
    const again = recycler.takeLanes(a.template)!;
    expect(again).toBe(first);
    expect(again.holds(a.template)).toBe(true);
    expect(again.fill(a.template, a.batches).equals(bodyA)).toBe(true);
    const other = oneSlot(3000, 'c');
    expect(recycler.takeLanes(other.template)).toBe(second);
    expect(recycler.bytes).toBe(0);
  });

  it('when 32 instances are lent at once, then the next take finds none and the caller renders into a buffer, until one comes back', () => {
    const recycler = new BufferRecycler(64 * 1024 * 1024);
    const { template, batches } = oneSlot(100, 'x');
    const lent = Array.from({ length: 32 }, () => recycler.takeLanes(template));
    expect(new Set(lent).size).toBe(32);
    expect(recycler.takeLanes(template)).toBeUndefined();
    recycler.give(lent[5]!.fill(template, batches));
    expect(recycler.takeLanes(template)).toBe(lent[5]);
  });

  it('when instances come back beyond the budget, counted by their bodies as buffers are, then the least recently used are let go', () => {
    const recycler = new BufferRecycler(250 * 1024);
    const { template, batches } = oneSlot(100 * 1024, 'x');
    const lent = Array.from({ length: 3 }, () => recycler.takeLanes(template)!);
    const bodies = lent.map((lanes) => lanes.fill(template, batches));
    for (const body of bodies) recycler.give(body);
    expect(recycler.bytes).toBe(200 * 1024);
    expect(recycler.takeLanes(template)).toBe(lent[2]);
    expect(recycler.takeLanes(template)).toBe(lent[1]);
    expect(recycler.takeLanes(template)).not.toBe(lent[0]);
  });
});

/** A response whose body the client does not read until told to: the server's write stays pending. */
function stalledFetch(url: string, localAddress: string) {
  let resume!: () => Promise<string>;
  const headersArrived = new Promise<void>((arrived, failed) => {
    const req = request(url, { localAddress, agent: false }, (res) => {
      res.pause();
      resume = () =>
        new Promise((done, failedToRead) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
          res.on('error', failedToRead);
          res.resume();
        });
      arrived();
    });
    req.on('error', failed);
    req.end();
  });
  return { headersArrived, read: () => resume() };
}

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

describe('recycled playlist buffers over HTTP (TOKEN_BUCKET=0)', () => {
  it('when a slow client is still receiving its playlist while others are served, then its bytes are still its own', async () => {
    lineup = await startTestLineup({ env: { TOKEN_BUCKET: '0' } });
    // About 6 MB: more than the kernel takes into socket buffers (up to 4 MB here) while the client does not read.
    await applySql(
      lineup,
      `INSERT INTO channels (stream, name, number)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24000)
         SELECT 'live/channel-' || i, 'Channel ' || i, i FROM n;`,
    );
    const url = await addSubscriber(lineup, 'alice');

    const slow = stalledFetch(url, '127.0.0.2');
    await slow.headersArrived;
    // Same lineup and fill width, so each of these renders into a buffer of the slow one's size.
    for (let round = 0; round < 12; round++) {
      const others = await Promise.all([fetchFrom(url), fetchFrom(url), fetchFrom(url)]);
      for (const other of others) expect(other.status).toBe(200);
    }
    const entries = expectAllTokensValid(await slow.read(), '127.0.0.2');
    expect(entries).toHaveLength(24000);
  }, 30_000);
});

describe('recycled playlist buffers on the cache-miss path (TOKEN_BUCKET on)', () => {
  it('when many subscribers miss the cache while slow clients still receive theirs, then every body is its own and stays what a refetch gives', async () => {
    // A clock that stands still: every response of the test falls in one bucket, so that a
    // subscriber's refetch must give the very bytes and ETag it got before.
    const now = Math.floor(Date.now() / 1000);
    lineup = await startTestLineup({ env: { TOKEN_BUCKET: '300' }, clock: () => now });
    // About 6 MB a playlist, more than the kernel takes into socket buffers while a client does not
    // read; the 16 MB cache holds two, so each further subscriber evicts one that may still be sending.
    await applySql(
      lineup,
      `INSERT INTO channels (stream, name, number)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24000)
         SELECT 'live/channel-' || i, 'Channel ' || i, i FROM n;`,
    );
    const urls: string[] = [];
    for (let i = 0; i < 8; i++) urls.push(await addSubscriber(lineup, `box${i}`));

    const slow = [stalledFetch(urls[0]!, '127.0.0.2'), stalledFetch(urls[1]!, '127.0.0.3')];
    await Promise.all(slow.map((one) => one.headersArrived));
    // Every other box several times over, three at once: each a miss into a recycled buffer of
    // the slow ones' size, in bodies the cache takes in and lets go of.
    const bodies = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 2; i < urls.length; i += 3) {
        const batch = urls.slice(i, i + 3);
        const answers = await Promise.all(batch.map((url) => fetchFrom(url, { localAddress: '127.0.0.4' })));
        answers.forEach((answer, j) => {
          expect(answer.status).toBe(200);
          const url = batch[j]!;
          if (!bodies.has(url)) bodies.set(url, answer.body);
          // Within a bucket, a box's bytes never change, whether rendered again or taken from the cache.
          expect(answer.body === bodies.get(url)).toBe(true);
        });
      }
    }
    const slowBodies = await Promise.all(slow.map((one) => one.read()));
    for (const [i, ip] of ['127.0.0.2', '127.0.0.3'].entries()) {
      expect(expectAllTokensValid(slowBodies[i]!, ip)).toHaveLength(24000);
      const again = await fetchFrom(urls[i]!, { localAddress: ip });
      expect(again.body === slowBodies[i]).toBe(true);
    }
    for (const body of bodies.values()) expect(expectAllTokensValid(body, '127.0.0.4')).toHaveLength(24000);
    // Bodies of distinct boxes differ (their salts do): none was served another's buffer.
    expect(new Set([...bodies.values(), ...slowBodies]).size).toBe(urls.length);
  }, 60_000);
});
