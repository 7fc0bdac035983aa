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
import { AuditStore, DataStorageSink, newAuditEvent, type AuditStoreOptions, type Batch, type FlushOptions, type FlushResult, type SendContext } from '../../../lib/index.js'

/**
 * A DataStorage sink that knows which sends it has under way. A subclass of
 * the real sink, not a ScriptedSink: the specs need their events in the real
 * server, and the seed's store needs a handle on the sends.
 */
class TrackingSink extends DataStorageSink {
  readonly sending = new Set<Promise<void>>()

  protected override async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    const send = super.sendBatch(batch, ctx)
    this.sending.add(send)
    try {
      await send
    } finally {
      this.sending.delete(send)
    }
  }
}

/**
 * The seed's broken store, rebuilt in test code: its flush waits only for the
 * batches its writer has already taken and ignores the events still queued
 * ahead of it, then reports success.
 */
class SeedBugStore extends AuditStore {
  readonly #sink: TrackingSink

  constructor (options: AuditStoreOptions & { sink: TrackingSink }) {
    super(options)
    this.#sink = options.sink
  }

  override async flush (_options?: FlushOptions): Promise<FlushResult> {
    await Promise.allSettled([...this.#sink.sending])
    return { written: 0, deadLettered: 0, dropped: 0, lost: 0 }
  }
}

export function defineSpecs (file: number, eventCounts: readonly number[]): void {
  const url = process.env.AUDIT_DATASTORAGE_URL
  if (url === undefined) throw new Error('AUDIT_DATASTORAGE_URL is not set: run these specs through test/integration/parallel-flush.test.ts')
  let store: AuditStore
  before(() => {
    const seedBug = process.env.PARALLEL_FLUSH_SEAM === 'seed-bug'
    // With the seed's bug, a batch timer that fires before the query (a loaded machine makes the
    // query late) would deliver the events and hide the bug: there, only the flush may deliver.
    const options = { sink: new TrackingSink({ url }), batchSize: 1000, flushIntervalMs: seedBug ? 600_000 : 1000, logger: pino({ level: 'silent' }) }
    store = seedBug ? new SeedBugStore(options) : new AuditStore(options)
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
