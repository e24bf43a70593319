// biome-ignore-all lint/performance/useDomNodeTextContent: playwright's innerText is the rendered text a person reads, which is what is checked
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatBytes } from '../../core/bytes.js';
import { formatSeconds } from '../../core/duration.js';
import type { DoctorReport } from '../../doctor/run.js';
import { renderStatusPage } from '../../doctor/status-page.js';
import { addBlob, backupSite } from '../support/backup-site.js';
import { launchChromium } from '../support/browser.js';
import { CAPTURE_DIR } from '../support/capture.js';
import { tier4 } from '../support/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON freely
type Any = any;

const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Opens a page file offline, and records every request it makes. */
async function open(file: string, viewport = { width: 1200, height: 900 }) {
  const context = await browser.newContext({ viewport, javaScriptEnabled: true, offline: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  const dialogs: string[] = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.goto(`file://${file}`, { waitUntil: 'load', timeout: 15_000 });
  return { context, page, requests, dialogs };
}

describe('tier4 status --html, in headless Chromium', () => {
  test('shows the backups, problems, drills and promotions of a repository the test built, offline and on a phone', async () => {
    const site = await backupSite({ blobs: 3, cases: 20 });
    const c = ['-c', site.configPath];
    expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
    expect(
      (
        await tier4([...c, 'drill', '--site', site.site, '--report-dir', join(site.dir, 'reports')], {
          env: site.env,
        })
      ).code,
    ).toBe(0);
    // A new attachment whose file Primero lost: the next set records it as missing.
    const { diskBlobPath } = await import('../../core/primero/tables.js');
    const key = 'lost0attachment0key000000001';
    await addBlob(site, key, Buffer.from('a scanned form'));
    await rm(join(site.blobRoot, diskBlobPath(key)));
    await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env });
    // A promotion log whose fields came from a remote Primero: hostile markup must show as text.
    await mkdir(join(site.dir, '.tier4'), { recursive: true });
    await writeFile(
      join(site.dir, '.tier4', 'promotions.jsonl'),
      `${JSON.stringify({ id: 'p1', kind: 'promotion', result: 'succeeded', at: '2026-11-01T10:00:00Z', operator: 'Jane Operator', from: 'demo', to: site.site, configurationVersion: HOSTILE, summary: { changes: 4, added: 1, changed: 3, removed: 0, destructive: 0, kept: 0 } })}\n`,
    );

    const file = join(site.dir, 'status.html');
    const result = await tier4([...c, 'status', '--html', file], { env: site.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Wrote ${file}`);
    const html = await readFile(file, 'utf8');
    // Self-contained: nothing fetched from elsewhere, no script at all.
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b|<[^>]*\s(src|href)=|url\(|@import/i);
    expect(html).not.toContain('Jane Operator');

    const list = JSON.parse(
      (await tier4([...c, '--json', 'backup', 'list', '--site', site.site], { env: site.env })).stdout,
    );
    const sets: Any[] = list.sets ?? list;
    expect(sets).toHaveLength(2);
    const drill = JSON.parse(
      (await tier4([...c, '--json', 'doctor', '--site', site.site], { env: site.env })).stdout,
    ).sites[site.site].drills[0];

    const { context, page, requests, dialogs } = await open(file);
    try {
      expect(requests).toEqual([`file://${file}`]);
      const text = await page.locator('body').innerText();
      for (const set of sets) {
        const row = page.locator('tr', { hasText: set.id }).first();
        await expect(row.innerText()).resolves.toContain(formatBytes(set.totalBytes));
      }
      const [good, bad] = sets;
      await expect(page.locator('tr', { hasText: bad.id }).first().innerText()).resolves.toContain(
        '1 attachment problem(s)',
      );
      await expect(page.locator('tr', { hasText: good.id }).first().innerText()).resolves.toMatch(
        /Problems|none/,
      );
      const drillRow = page.locator('tr', { hasText: 'passed' }).first();
      await expect(drillRow.innerText()).resolves.toContain(formatSeconds(drill.rtoSeconds));
      await expect(drillRow.innerText()).resolves.toContain(formatSeconds(drill.dataAgeSeconds));
      expect(text).toContain('backup-problems');
      expect(text).toContain('2 complete, 0 incomplete');
      // The hostile promotion field is shown as the characters it is, and nothing of it ran.
      expect(text).toContain(HOSTILE);
      expect(await page.evaluate('document.querySelectorAll("script, img").length')).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(dialogs).toEqual([]);
      await mkdir(CAPTURE_DIR, { recursive: true });
      await page.screenshot({ path: join(CAPTURE_DIR, 'status-page.png'), fullPage: true });
    } finally {
      await context.close();
    }

    // On a phone: no sideways scrolling of the page (wide tables scroll inside their own box).
    const phone = await open(file, { width: 390, height: 844 });
    try {
      const overflow = await phone.page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      const fontSize = await phone.page.evaluate<string>('getComputedStyle(document.body).fontSize');
      expect(Number.parseFloat(fontSize)).toBeGreaterThanOrEqual(14);
      await phone.page.screenshot({ path: join(CAPTURE_DIR, 'status-page-phone.png'), fullPage: true });
    } finally {
      await phone.context.close();
    }
  });

  test('escapes every value: a hostile site, set id, path, message and certificate stay text', async () => {
    const report: DoctorReport = {
      ok: false,
      generatedAt: '2026-11-29T12:00:00.000Z',
      metrics: [],
      checks: [{ site: HOSTILE, check: HOSTILE, status: 'fail', message: HOSTILE }],
      sites: {
        [HOSTILE]: {
          role: HOSTILE,
          repository: {
            location: `file:///srv/${HOSTILE}`,
            readable: true,
            untrusted: 1,
            incomplete: 0,
            rpoSeconds: 86_400,
            sets: [
              {
                id: HOSTILE,
                snapshotAt: '2026-11-29T11:00:00.000Z',
                totalBytes: 5 * 1024 * 1024,
                databaseBytes: 1024,
                attachments: 2,
                attachmentBytes: 2048,
                rowCounts: {},
                primeroVersion: HOSTILE,
                problems: 0,
                lastVerified: null,
              },
            ],
          },
          drills: [
            {
              startedAt: '2026-11-28T03:00:00.000Z',
              setId: HOSTILE,
              ok: false,
              authentic: true,
              rtoSeconds: 90,
              dataAgeSeconds: 3600,
              failedChecks: [HOSTILE],
            },
          ],
          drillIntervalSeconds: 2_592_000,
          certificates: [
            {
              certificate: HOSTILE,
              where: 'served',
              daysLeft: 12,
              notAfter: '2026-12-11T00:00:00.000Z',
              status: 'fail',
              message: HOSTILE,
            },
          ],
        },
      },
    };
    const html = renderStatusPage({ deployment: HOSTILE, report, promotions: [] });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    const file = join(CAPTURE_DIR, 'status-page-hostile.html');
    await mkdir(CAPTURE_DIR, { recursive: true });
    await writeFile(file, html);
    const { context, page, dialogs } = await open(file);
    try {
      expect(await page.title()).toBe(`${HOSTILE}: tier4 status`);
      const text = await page.locator('body').innerText();
      expect(text.split(HOSTILE).length - 1).toBeGreaterThanOrEqual(8);
      expect(await page.evaluate('document.querySelectorAll("script, img").length')).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(dialogs).toEqual([]);
      // The certificate's expiry and days left are shown.
      await expect(page.locator('tr', { hasText: '2026-12-11 00:00' }).innerText()).resolves.toContain('12');
    } finally {
      await context.close();
    }
  });
});
