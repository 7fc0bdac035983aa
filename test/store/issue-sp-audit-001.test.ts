/**
 * Regression for the seed: a Go audit store whose Flush() wrote only the batch
 * it held and ignored the events still queued ahead of the writer, then
 * reported success. 85-87 of 87 parallel specs found no audit events.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAuditStore, MemorySink } from '../../lib/index.js'
import { makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'

for (const count of [10, 10_000]) {
  test(`flush drains all ${count} events still queued ahead of the batcher`, async () => {
    const sink = new MemorySink()
    // A batch size and interval that never trigger on their own: only flush can deliver.
    const store = createAuditStore({ sink, logger: silentLogger, batchSize: 1000, flushIntervalMs: 60_000 })
    for (let i = 0; i < count; i++) assert.equal(store.record(makeEvent(i, 'sp-audit-001')), true)
    const result = await store.flush()
    assert.deepEqual(result, { written: count, deadLettered: 0, dropped: 0, lost: 0 })
    assert.equal(sink.events.length, count)
    assert.deepEqual(seqs(sink.events), Array.from({ length: count }, (_, i) => i))
    await store.close()
  })
}
