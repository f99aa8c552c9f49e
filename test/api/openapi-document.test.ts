import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiLineup, startApiLineup } from './api-client.js';

const CHROMIUM = '/usr/bin/chromium';
const REDOCLY = join(import.meta.dirname, '../../node_modules/.bin/redocly');

let lineup: ApiLineup;
let document: { info: { title: string }; paths: Record<string, Record<string, { operationId: string }>> };
beforeAll(async () => {
  lineup = await startApiLineup();
  const served = await fetch(`${lineup.adminUrl}/api/v1/openapi.json`);
  expect(served.headers.get('content-type')).toBe('application/json; charset=utf-8');
  document = (await served.json()) as typeof document;
}, 60_000);
afterAll(() => lineup?.close());

describe('the OpenAPI document and its reference page', () => {
  it('when the served document is linted by Redocly CLI, then it is valid OpenAPI 3.1 with no warning', () => {
    const file = join(lineup.dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const lint = spawnSync(REDOCLY, ['lint', file, '--format', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    });
    expect(lint.status, lint.stderr).toBe(0);
    const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: unknown[] };
    expect(report.problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect((document as unknown as { openapi: string }).openapi).toBe('3.1.0');
  }, 120_000);

  it('when the operations are counted, then the document lists every route the API answers, and only those', async () => {
    const listed = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((operation) => operation.operationId));
    expect(listed.sort()).toEqual(
      [
        'createSubscriber',
        'deleteSubscriber',
        'getSubscriber',
        'listAudit',
        'listChannels',
        'listLintFindings',
        'listPackages',
        'listSessions',
        'closeSubscriberSessions',
        'listSubscribers',
        'renewSubscriber',
        'rotateSubscriberKey',
        'updateSubscriber',
      ].sort(),
    );
    const unknown = await lineup.api('GET', '/api/v1/nothing-here');
    expect(unknown.json).toMatchObject({ status: 404, type: 'urn:lineup:problem:not-found' });
  });

  it('when the reference page is opened in headless Chromium, then it renders the title and every operation, from files served here', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      // CI installs it (.ci/run); a developer machine without it skips, and says so.
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
      ctx.skip('no Chromium at /usr/bin/chromium (apt-get install -y chromium)');
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const foreign: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(lineup.adminUrl)) foreign.push(request.url());
      });
      await page.goto(`${lineup.adminUrl}/api/v1/docs`);
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      expect(await page.title()).toBe('Lineup admin API reference');
      expect(await page.locator('.info .title').first().textContent()).toContain(document.info.title);
      const operations = await page.locator('.opblock-summary').evaluateAll((blocks) =>
        blocks.map((block) => {
          const method = block.querySelector('.opblock-summary-method')?.textContent?.trim().toLowerCase();
          const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path');
          return `${method} ${path}`;
        }),
      );
      const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method} ${path}`),
      );
      expect(operations.sort()).toEqual(documented.sort());
      const screenshot = join(lineup.dir, 'reference.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
      expect(readFileSync(screenshot).length).toBeGreaterThan(10_000);
      expect(foreign).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
