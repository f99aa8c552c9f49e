import { describe, expect, it } from 'vitest';
import { type ImportedValues, mergeReimport } from '../../src/import/reimport.js';

const values = (overrides: Partial<ImportedValues> = {}): ImportedValues => ({
  name: 'Alpha',
  number: 5,
  groupTitle: 'News',
  logo: 'https://l/a.png',
  tvgId: 'a.uk',
  catchupDays: 0,
  radio: false,
  ...overrides,
});

describe('mergeReimport', () => {
  it('when nobody changed the channel, then it takes every upstream value', () => {
    const incoming = values({
      name: 'Alpha HD',
      number: 6,
      groupTitle: 'World',
      logo: 'https://l/a2.png',
      tvgId: 'a2.uk',
      catchupDays: 7,
      radio: true,
    });
    expect(mergeReimport(values(), values(), incoming)).toEqual(incoming);
  });

  it('when the operator changed the number, then the number is kept and the rest follows upstream', () => {
    expect(mergeReimport(values({ number: 42 }), values(), values({ number: 6, name: 'Alpha HD' }))).toEqual(
      values({ number: 42, name: 'Alpha HD' }),
    );
  });

  it('when the operator cleared a field, then it stays cleared', () => {
    expect(mergeReimport(values({ logo: '', number: null }), values(), values({ logo: 'https://l/new.png', number: 9 }))).toEqual(
      values({ logo: '', number: null }),
    );
  });

  it('when upstream did not change, then an operator change is kept', () => {
    expect(mergeReimport(values({ name: 'Mine' }), values(), values())).toEqual(values({ name: 'Mine' }));
  });
});
