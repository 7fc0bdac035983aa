import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySink, createAuditStore } from '../../lib/index.js'
import { makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'

test('keeps parsed events in order and the size of each batch', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 4, flushIntervalMs: 60_000 })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i))
  await store.close()
  assert.deepEqual(seqs(sink.events), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.deepEqual(sink.batches, [4, 4, 2])
})

test('delayMs delays every send', async () => {
  const sink = new MemorySink({ delayMs: 40 })
  // One batch in flight at a time, so the two delays add up.
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 1, flushIntervalMs: 60_000, lanes: 0 })
  const started = performance.now()
  store.record(makeEvent(1))
  store.record(makeEvent(2))
  await store.flush()
  assert.ok(performance.now() - started >= 75)
  await store.close()
})

test('rejects a bad delayMs', () => {
  assert.throws(() => new MemorySink({ delayMs: -1 }), /Expected `delayMs` to be an integer >= 0/)
})
