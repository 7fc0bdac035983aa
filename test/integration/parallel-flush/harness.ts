/**
 * The seed's scenario: each process (one per spec file) has its own store
 * with production defaults, all pointing at one shared reference server.
 * Each spec records its events, flushes, queries once (no polling, no
 * sleep) and expects every one of its events exactly once.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { DataStorageSink, createAuditStore, newAuditEvent, type AuditStore } from '../../../lib/index.js'
import { kFlushSeam } from '../../../lib/store.js'

export function defineSpecs (file: number, eventCounts: readonly number[]): void {
  const url = process.env.AUDIT_DATASTORAGE_URL
  if (url === undefined) throw new Error('AUDIT_DATASTORAGE_URL is not set: run these specs through test/integration/parallel-flush.test.ts')
  let store: AuditStore
  before(() => {
    store = createAuditStore({ sink: new DataStorageSink({ url }), batchSize: 1000, flushIntervalMs: 1000, logger: pino({ level: 'silent' }) })
    if (process.env.PARALLEL_FLUSH_SEAM === 'seed-bug') store[kFlushSeam] = 'seed-bug'
  })
  after(async () => { await store.close().catch(() => {}) })

  eventCounts.forEach((count, i) => {
    const name = `spec ${String(file).padStart(2, '0')}.${i + 1}`
    test(`${name}: all ${count} recorded events are in DataStorage once flush resolves`, async () => {
      const correlationId = `${name}-${randomUUID()}`
      for (let seq = 0; seq < count; seq++) {
        assert.equal(store.record(newAuditEvent({
          event_type: 'parallel.flush', event_category: 'tests', event_action: 'record', event_outcome: 'success',
          correlation_id: correlationId, event_data: { seq }
        })), true)
      }
      await store.flush()
      const reply = await fetch(`${url}/api/v1/audit/events?correlation_id=${encodeURIComponent(correlationId)}&limit=100`)
      assert.equal(reply.status, 200)
      const { data } = (await reply.json()) as { data: Array<{ event_data: { seq: number } }> }
      assert.equal(data.length, count, `no audit events found: ${data.length} of ${count}`)
      assert.deepEqual(data.map((e) => e.event_data.seq).sort((a, b) => a - b), Array.from({ length: count }, (_, k) => k))
    })
  })
}
