/**
 * `npm run screenshots`: regenerates the README's screenshot of the trail
 * browser (docs/images/trail-browser.png) from a seeded reference server.
 */
import { mkdir } from 'node:fs/promises'
import { startDataStorageServer } from '../lib/server/index.js'
import { browserMissing, launchBrowser } from './helpers/browser.js'
import { silentLogger } from './helpers/fixtures.js'
import { seed, trailEvents } from './helpers/trail-events.js'

const OUT = new URL('../docs/images/', import.meta.url)
const TOKEN = 'screenshot-token'
const TRAIL = 'rr-2026-0314-checkout'

const missing = browserMissing()
if (missing !== undefined) throw new Error(missing)
const server = await startDataStorageServer({ token: TOKEN, logger: silentLogger })
const browser = await launchBrowser()
try {
  await seed(server.url, TOKEN, trailEvents(TRAIL, 2_500))
  const page = await browser.context.newPage()
  await page.goto(`${server.url}/ui?correlation_id=${TRAIL}`)
  await page.getByLabel('API token').fill(TOKEN)
  await page.getByRole('button', { name: 'Use token' }).click()
  await page.locator('#results:not([hidden])').waitFor()
  await page.locator('#timeline tbody tr').nth(5).locator('button').focus()
  await mkdir(OUT, { recursive: true })
  await page.screenshot({ path: new URL('trail-browser.png', OUT).pathname, clip: { x: 0, y: 0, width: 1280, height: 760 } })
  console.log(`wrote ${new URL('trail-browser.png', OUT).pathname}`)
} finally {
  await browser.close()
  await server.close()
}
