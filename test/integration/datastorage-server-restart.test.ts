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
import { waitFor } from '../helpers/wait-for.js'

const BATCH = '/api/v1/audit/events/batch'
const WRITERS = 8
const BATCH_SIZE = 20

const event = (cid: string, seq: number) => newAuditEvent({ event_type: 'restart.test', event_category: 'tests', event_action: 'write', event_outcome: 'success', correlation_id: cid, event_data: { seq } })

test('a PostgreSQL restart under write load costs 503s with Retry-After, never the process, and serving resumes', { skip: privatePostgresUnavailable() }, async (t) => {
  const pg = await startPrivatePostgres()
  t.after(() => pg.stop())
  const server = await startDataStorageServer({ database: pg.url, logger: silentLogger })
  t.after(() => server.close())
  const cid = randomUUID()
  const statuses = new Map<number, number>()
  const unexpected: string[] = []
  let afterRestart = 0
  let restarted = false
  let stop = false

  // Sends one batch with its own idempotency key until it is stored.
  const sendBatch = async (first: number): Promise<void> => {
    const key = randomUUID()
    const body = JSON.stringify(Array.from({ length: BATCH_SIZE }, (_, i) => event(cid, first + i)))
    for (;;) {
      const res = await request(server.url + BATCH, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body })
      const text = await res.body.text()
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 201) {
        if (restarted) afterRestart++
        return
      }
      if (res.statusCode !== 503 || res.headers['retry-after'] === undefined) unexpected.push(`${res.statusCode} ${text}`)
      if (res.statusCode !== 503) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  let next = 0
  const writers = Array.from({ length: WRITERS }, async () => {
    while (!stop || !restarted) {
      const first = next
      next += BATCH_SIZE
      await sendBatch(first)
      if (restarted && afterRestart >= WRITERS * 3) stop = true
    }
  })
  // Load is flowing before the restart.
  await waitFor(() => (statuses.get(201) ?? 0) >= WRITERS * 2, { what: `${WRITERS * 2} batches stored before the restart`, detail: () => JSON.stringify(Object.fromEntries(statuses)) })
  await pg.restart()
  restarted = true
  await Promise.all(writers)

  assert.deepEqual(unexpected, [], 'only 201 and 503 with Retry-After')
  const ready = await request(server.url + '/health/ready')
  assert.equal(ready.statusCode, 200)
  await ready.body.dump()
  const res = await request(`${server.url}/api/v1/audit/events?correlation_id=${cid}&limit=1`)
  const total = ((await res.body.json()) as { pagination: { total: number } }).pagination.total
  assert.equal(total, next, 'every batch stored exactly once')
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
})
