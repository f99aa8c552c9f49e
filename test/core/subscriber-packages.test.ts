import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql, parsePlaylist, streamOf } from './support.js';

let lineup: TestLineup;
let daveUrl: string;

beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(
    lineup,
    `INSERT INTO channels (stream, name, number) VALUES ('free', 'Free', 1), ('prem', 'Premium', 2), ('kids', 'Kids', 3);
     INSERT INTO packages (name) VALUES ('premium'), ('kids');
     INSERT INTO package_channels (package_id, channel_id)
       SELECT p.id, c.id FROM packages p JOIN channels c ON p.name = c.stream OR (p.name = 'premium' AND c.stream = 'prem');`,
  );
  daveUrl = await addSubscriber(lineup, 'dave', '--package', 'kids');
});
afterAll(() => lineup.close());

const streams = async () => parsePlaylist((await fetchFrom(daveUrl)).body).map((entry) => streamOf(entry.url));

describe('lineup subscriber packages', () => {
  it('when a package is added and another removed, then the same URL shows the new tier at once', async () => {
    expect(await streams()).toEqual(['free', 'kids']);
    const result = await lineup.cli(['subscriber', 'packages', 'dave', '--add', 'premium', '--remove', 'kids']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('packages premium');
    expect(await streams()).toEqual(['free', 'prem']);
  });

  it('when no option is given, then it shows the packages and changes nothing', async () => {
    const result = await lineup.cli(['subscriber', 'packages', 'dave']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/packages premium,/);
    expect(await streams()).toEqual(['free', 'prem']);
  });

  it('when one of the named packages does not exist, then nothing changes and one line names it', async () => {
    const result = await lineup.cli(['subscriber', 'packages', 'dave', '--add', 'kids', '--remove', 'premium', '--add', 'sport']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('lineup: no package named "sport"\n');
    expect(await streams()).toEqual(['free', 'prem']);
  });

  it('when the subscriber does not exist, then it exits 1 naming them', async () => {
    const result = await lineup.cli(['subscriber', 'packages', 'nobody', '--add', 'kids']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('lineup: no subscriber named "nobody"\n');
  });
});
