/**
 * PostgreSQL restarts under write load (`pg_ctl restart -m fast`) on a
 * private cluster: the server process never dies or hangs, requests during
 * the outage get 503 with Retry-After, and serving resumes by itself. Every
 * batch retried with its idempotency key until 201 is stored exactly once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { newAuditEvent } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { privatePostgresUnavailable, startPrivatePostgres } from '../helpers/private-postgres.js'

const BATCH = '/api/v1/audit/events/batch'
const WRITERS = 8
const BATCH_SIZE = 20
// How long load may take to start flowing, or one batch may keep getting 503, before the test fails.
const PATIENCE_MS = 60_000

const event = (cid: string, seq: number) => newAuditEvent({ event_type: 'restart.test', event_category: 'tests', event_action: 'write', event_outcome: 'success', correlation_id: cid, event_data: { seq } })

test('a PostgreSQL restart under write load costs 503s with Retry-After, never the process, and serving resumes', { skip: privatePostgresUnavailable(), timeout: 5 * PATIENCE_MS }, async (t) => {
  const pg = await startPrivatePostgres()
  t.after(() => pg.stop())
  const server = await startDataStorageServer({ database: pg.url, logger: silentLogger })
  t.after(() => server.close())
  const cid = randomUUID()
  const statuses = new Map<number, number>()
  const unexpected: string[] = []
  // 503s that carried a Retry-After of a whole number of seconds, as the server promises.
  let retryAfter503 = 0
  let afterRestart = 0
  let restarted = false
  let stop = false

  // Sends one batch with its own idempotency key until it is stored.
  const sendBatch = async (first: number): Promise<void> => {
    const key = randomUUID()
    const body = JSON.stringify(Array.from({ length: BATCH_SIZE }, (_, i) => event(cid, first + i)))
    const giveUp = performance.now() + PATIENCE_MS
    for (;;) {
      const res = await request(server.url + BATCH, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body })
      const text = await res.body.text()
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 201) {
        if (restarted) afterRestart++
        return
      }
      const retryAfter = res.headers['retry-after']
      if (res.statusCode !== 503 || typeof retryAfter !== 'string' || !/^[1-9]\d*$/.test(retryAfter)) unexpected.push(`${res.statusCode} retry-after=${String(retryAfter)} ${text}`)
      else retryAfter503++
      if (res.statusCode !== 503) return
      if (performance.now() > giveUp) {
        unexpected.push(`batch ${first} still answered 503 after ${PATIENCE_MS} ms: serving did not resume`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  let next = 0
  const writers = Array.from({ length: WRITERS }, async () => {
    while ((!stop || !restarted) && unexpected.length === 0) {
      const first = next
      next += BATCH_SIZE
      await sendBatch(first)
      if (restarted && afterRestart >= WRITERS * 3) stop = true
    }
  })
  // Load is flowing before the restart.
  const flowing = performance.now() + PATIENCE_MS
  while ((statuses.get(201) ?? 0) < WRITERS * 2) {
    if (performance.now() > flowing || unexpected.length > 0) {
      // Lets the writers end after their current batch.
      stop = restarted = true
      assert.fail(`load never started: ${statuses.get(201) ?? 0} of ${WRITERS * 2} batches stored within ${PATIENCE_MS} ms; ${unexpected.join('; ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await pg.restart()
  restarted = true
  await Promise.all(writers)

  assert.deepEqual(unexpected, [], 'only 201 and 503 with Retry-After')
  assert.ok(retryAfter503 > 0, `the restart cost no 503 with Retry-After: statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  const ready = await request(server.url + '/health/ready')
  assert.equal(ready.statusCode, 200)
  await ready.body.dump()
  const res = await request(`${server.url}/api/v1/audit/events?correlation_id=${cid}&limit=1`)
  const total = ((await res.body.json()) as { pagination: { total: number } }).pagination.total
  assert.equal(total, next, 'every batch stored exactly once')
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
})
