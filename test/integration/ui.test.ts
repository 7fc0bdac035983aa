/// <reference lib="dom" />
/**
 * The trail browser in a real browser (Debian's chromium through
 * playwright-core) against the reference server on PGlite: search and
 * paging, filters, detail and permalink, XSS, CSP, auth and export.
 * Screenshots go to test-output/screenshots/ (git-ignored).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import type { AuditEvent } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { browserMissing, launchBrowser, type Browser } from '../helpers/browser.js'
import { silentLogger } from '../helpers/fixtures.js'
import { seed, trailEvents } from '../helpers/trail-events.js'

const TOKEN = 'ui-test-token'
const TRAIL = 'rr-2026-0314-checkout'
const SHOTS = new URL('../../test-output/screenshots/', import.meta.url)
// Chrome logs each refused fetch as a console error; those the tests provoke are expected, nothing else is.
const EXPECTED_CONSOLE = /^Failed to load resource: the server responded with a status of (400|401|404)/

const XSS_TYPE = '<img src=x onerror="window.__xss=\'type\'">'
const xssEvent = (patch: Partial<AuditEvent>): AuditEvent => ({
  version: '1.0', event_type: XSS_TYPE, event_timestamp: '2026-03-15T10:00:00Z', event_category: '<script>window.__xss="category"</script>',
  event_action: 'create', event_outcome: 'failure', correlation_id: 'xss', actor_id: '<b>mallory</b>',
  event_data: {
    html: '<script>window.__xss="data"</script>',
    img: '<img src=x onerror="window.__xss=\'img\'">',
    link: 'javascript:window.__xss="link"',
    '<img src=x onerror="window.__xss=\'key\'">': ['<svg onload="window.__xss=\'svg\'">']
  },
  ...patch
})

interface Api { total: number, ids: string[] }

const missing = browserMissing()

describe('trail browser', { skip: missing }, () => {
  let server: DataStorageServer
  let browser: Browser
  const problems: string[] = []

  before(async () => {
    server = await startDataStorageServer({ token: TOKEN, logger: silentLogger })
    await seed(server.url, TOKEN, [
      ...trailEvents(TRAIL, 2_500),
      ...trailEvents('rr-other', 40, Date.UTC(2026, 2, 14, 9, 10)),
      xssEvent({}), xssEvent({ event_outcome: 'success', event_timestamp: '2026-03-15T10:00:01Z' })
    ])
    browser = await launchBrowser()
    await mkdir(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  // A fresh tab (so a fresh sessionStorage) that records what should never happen.
  async function open (path: string, token: string | null = TOKEN): Promise<Page> {
    const page = await browser.context.newPage()
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}) })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('console', (m) => { if (m.type() === 'error' && !EXPECTED_CONSOLE.test(m.text())) problems.push(`console: ${m.text()}`) })
    await page.goto(server.url + path)
    if (token !== null) await useToken(page, token)
    return page
  }

  async function useToken (page: Page, token: string): Promise<void> {
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Use token' }).click()
  }

  async function api (params: Record<string, string>): Promise<Api> {
    const ids: string[] = []
    let total = 0
    for (let offset = 0; ; offset += 1_000) {
      const query = new URLSearchParams({ ...params, limit: '1000', offset: String(offset) })
      const res = await fetch(`${server.url}/api/v1/audit/events?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      assert.equal(res.status, 200)
      const body = await res.json() as { data: Array<{ event_id: string }>, pagination: { total: number, has_more: boolean } }
      ids.push(...body.data.map((e) => e.event_id))
      total = body.pagination.total
      if (!body.pagination.has_more) return { total, ids }
    }
  }

  async function search (page: Page, filters: Record<string, string>): Promise<void> {
    await page.getByRole('button', { name: 'Clear' }).click()
    await page.locator('#results:not([hidden]), #message:not([hidden])').first().waitFor()
    for (const [name, value] of Object.entries(filters)) {
      const field = page.locator(`#f-${name}`)
      if (await field.evaluate((el) => el.tagName) === 'SELECT') await field.selectOption(value)
      else await field.fill(value)
    }
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await waitForQuery(page, filters)
  }

  // The page has loaded the query once the URL names it and the summary is no longer loading.
  async function waitForQuery (page: Page, filters: Record<string, string>): Promise<void> {
    await page.waitForURL((url) => Object.entries(filters).every(([k, v]) => url.searchParams.get(k) === v))
    await page.waitForFunction(() => !document.querySelector('#timeline')?.hasAttribute('aria-busy') && document.querySelector('#summary')?.textContent !== 'Loading…')
  }

  async function rowIds (page: Page): Promise<string[]> {
    return page.locator('#timeline tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.eventId ?? ''))
  }

  test('serves the page without a token, under a strict CSP, nosniff and no framing', async () => {
    const res = await fetch(`${server.url}/ui`)
    assert.equal(res.status, 200)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /style-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    const html = await res.text()
    assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler in the page')
    for (const asset of ['app.js', 'style.css']) {
      const a = await fetch(`${server.url}/ui/assets/${asset}`)
      assert.equal(a.status, 200)
      assert.match(a.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/)
    }
    assert.equal((await fetch(`${server.url}/ui/assets/..%2Fui-routes.ts`)).status, 404)
    assert.equal((await fetch(`${server.url}/ui/assets/nope.js`)).status, 404)
  })

  test('a missing or wrong token shows a clear message, and the token stays in sessionStorage only', async () => {
    const page = await open('/ui', null)
    const message = page.getByRole('alert')
    await message.waitFor()
    assert.match(await message.innerText(), /needs a valid API token \(401 Unauthorized/)
    assert.equal(await page.locator('#results').isHidden(), true)
    await useToken(page, 'wrong-token')
    await page.waitForFunction(() => document.querySelector('#token-status')?.textContent === 'token set for this tab')
    await message.waitFor()
    assert.match(await message.innerText(), /needs a valid API token/)
    await useToken(page, TOKEN)
    await page.locator('#results').waitFor()
    assert.equal(await message.isHidden(), true)
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('audit-stream.token'), local: localStorage.length, cookie: document.cookie, url: location.href }))
    assert.deepEqual({ ...stored, url: stored.url.includes(TOKEN) }, { session: TOKEN, local: 0, cookie: '', url: false })
    await page.close()
  })

  test('a trail of 2 500 events shows its count and pages through every event, in order', async () => {
    const page = await open('/ui')
    await search(page, { correlation_id: TRAIL, order: 'asc' })
    assert.match(await page.locator('#summary').innerText(), /^2,500 events, oldest first; showing 1–100\./)
    assert.equal(await page.locator('#page-label').innerText(), 'Page 1 of 25')
    await page.screenshot({ path: new URL('timeline.png', SHOTS).pathname })
    const seen: string[] = []
    for (let p = 1; p <= 25; p++) {
      if (p > 1) {
        // Alternate the Next button and the `n` key.
        if (p % 2 === 0) await page.getByRole('button', { name: 'Next' }).click()
        else await page.keyboard.press('n')
        await waitForQuery(page, { offset: String((p - 1) * 100) })
      }
      assert.equal(await page.locator('#page-label').innerText(), `Page ${p} of 25`)
      seen.push(...await rowIds(page))
    }
    assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true)
    const expected = await api({ correlation_id: TRAIL })
    assert.deepEqual(seen, expected.ids)
    await search(page, { correlation_id: TRAIL, order: 'desc' })
    assert.deepEqual((await rowIds(page)).slice(0, 3), expected.ids.slice(-3).reverse())
    await page.close()
  })

  test('filters narrow the timeline exactly as the API does', async () => {
    const page = await open('/ui')
    const cases: Array<Record<string, string>> = [
      { correlation_id: TRAIL, event_outcome: 'failure' },
      { correlation_id: TRAIL, event_type: 'workflow.execution.started' },
      { correlation_id: TRAIL, event_category: 'notification', namespace: 'checkout' },
      { actor_id: 'alice', resource_type: 'Pod' },
      { correlation_id: TRAIL, resource_id: 'deployment-3' },
      { correlation_id: TRAIL, since: '2026-03-14T09:10:00Z', until: '2026-03-14T09:12:00Z' },
      { namespace: 'checkout', event_outcome: 'pending' }
    ]
    for (const filters of cases) {
      await search(page, { ...filters, order: 'asc', limit: '1000' })
      const expected = await api(filters)
      assert.ok(expected.total > 0 && expected.total < 2_540, `${JSON.stringify(filters)} narrows (${expected.total})`)
      const summary = await page.locator('#summary').innerText()
      assert.ok(summary.startsWith(`${expected.total.toLocaleString('en')} events`), `${JSON.stringify(filters)}: ${summary}`)
      assert.deepEqual(await rowIds(page), expected.ids.slice(0, 1_000), JSON.stringify(filters))
    }
    await search(page, { since: 'yesterday' })
    assert.match(await page.getByRole('alert').innerText(), /refused the query \(400 Bad Request: invalid query parameter since/)
    await page.close()
  })

  test('the detail view shows every field, copies the event as JSON, and its permalink works in a new tab', async () => {
    const page = await open('/ui')
    await search(page, { correlation_id: TRAIL, event_outcome: 'failure', order: 'asc' })
    const [id] = await rowIds(page)
    const res = await fetch(`${server.url}/api/v1/audit/events/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const event = await res.json() as Record<string, unknown>
    await page.locator('#timeline tbody button').first().focus()
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowUp')
    await page.keyboard.press('Enter')
    await page.waitForURL(`**/ui/events/${id}`)
    const fields = await page.locator('#fields tr').evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.querySelector('th')?.textContent, r.querySelector('td')?.textContent])))
    for (const [name, value] of Object.entries(event)) {
      if (name !== 'event_data') assert.equal(fields[name], typeof value === 'string' ? value : JSON.stringify(value), name)
    }
    assert.match(await page.locator('#event-data').innerText(), /"cluster"[\s\S]*"prod-eu-1"/)
    await page.getByRole('button', { name: 'Collapse all' }).click()
    assert.equal(await page.locator('#event-data details[open]').count(), 0)
    await page.getByRole('button', { name: 'Expand all' }).click()
    assert.equal(await page.locator('#event-data details:not([open])').count(), 0)
    await page.getByRole('button', { name: 'Copy as JSON' }).click()
    await page.getByText('Copied.').waitFor()
    assert.deepEqual(JSON.parse(await page.evaluate(() => navigator.clipboard.readText())), event)
    await page.screenshot({ path: new URL('detail.png', SHOTS).pathname, fullPage: true })
    await page.keyboard.press('Escape')
    await page.waitForURL((url) => url.pathname === '/ui')
    assert.equal(await page.evaluate(() => (document.activeElement?.closest('tr') as HTMLElement | null)?.dataset.eventId), id)

    const permalink = await open(`/ui/events/${id}`, null)
    await permalink.getByRole('alert').waitFor()
    await useToken(permalink, TOKEN)
    await permalink.locator('#detail-view:not([hidden])').waitFor()
    assert.equal(await permalink.locator('#detail-heading').innerText(), `${String(event.event_type)} · failure`)
    await permalink.getByRole('link', { name: 'Whole trail' }).click()
    await waitForQuery(permalink, { correlation_id: TRAIL })
    assert.match(await permalink.locator('#summary').innerText(), /^2,500 events/)
    await permalink.goto(`${server.url}/ui/events/not-a-uuid`)
    await useToken(permalink, TOKEN)
    assert.match(await permalink.getByRole('alert').innerText(), /invalid path parameter event_id: expected a UUID/)
    await permalink.close()
    await page.close()
  })

  test('markup and scripts in event_type, event_data and other fields render as text and never run', async () => {
    const page = await open('/ui')
    await search(page, { correlation_id: 'xss' })
    const cells = await page.locator('#timeline tbody tr').first().locator('td').allInnerTexts()
    assert.ok(cells.includes(XSS_TYPE), 'event_type shows as typed')
    assert.ok(cells.includes('<script>window.__xss="category"</script>'))
    await page.locator('#timeline tbody button').first().click()
    await page.locator('#detail-view:not([hidden])').waitFor()
    const tree = await page.locator('#event-data').innerText()
    assert.ok(tree.includes('"<script>window.__xss=\\"data\\"</script>"'), tree)
    assert.ok(tree.includes('"javascript:window.__xss=\\"link\\""'))
    assert.ok(tree.includes('"<img src=x onerror=\\"window.__xss=\'key\'\\">"'))
    assert.equal(await page.locator('#detail-heading').innerText(), `${XSS_TYPE} · success`)
    assert.equal(await page.locator('main img, main script, main svg:not(.histogram), main a[href^="javascript"]').count(), 0)
    await page.goBack()
    await page.locator('#results:not([hidden])').waitFor()
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined)
    await page.close()
  })

  test('export downloads exactly the events of the query as JSON Lines', async () => {
    const page = await open('/ui')
    const filters = { correlation_id: TRAIL, namespace: 'checkout' }
    await search(page, { ...filters, order: 'asc' })
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSONL' }).click()])
    assert.equal(download.suggestedFilename(), `audit-events-${TRAIL}.jsonl`)
    const text = await readFile(await download.path(), 'utf8')
    const ids = text.trimEnd().split('\n').map((line) => (JSON.parse(line) as { event_id: string }).event_id)
    const expected = await api(filters)
    assert.equal(ids.length, 1_250)
    assert.deepEqual(ids, expected.ids)
    await page.close()
  })

  test('no dialog, page error, CSP violation or unexpected console error happened in any test', () => {
    assert.deepEqual(problems, [])
  })
})

describe('trail browser page', () => {
  test('is not served with ui: false, while the API still is', async (t) => {
    const server = await startDataStorageServer({ ui: false, logger: silentLogger })
    t.after(() => server.close())
    assert.equal(server.uiUrl, undefined)
    assert.equal((await fetch(`${server.url}/ui`)).status, 404)
    assert.equal((await fetch(`${server.url}/api/v1/audit/events`)).status, 200)
  })
})
