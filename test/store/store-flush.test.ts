import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AbortError, FlushError, MemorySink, TimeoutError, createAuditStore } from '../../lib/index.js'
import { MemoryDeadLetter, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'

const quiet = { logger: silentLogger, batchSize: 1000, flushIntervalMs: 60_000 }

test('flush resolves with counts of the events since the previous flush', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet })
  for (let i = 0; i < 3; i++) store.record(makeEvent(i))
  assert.deepEqual(await store.flush(), { written: 3, deadLettered: 0, dropped: 0, lost: 0 })
  for (let i = 3; i < 5; i++) store.record(makeEvent(i))
  assert.deepEqual(await store.flush(), { written: 2, deadLettered: 0, dropped: 0, lost: 0 })
  assert.deepEqual(await store.flush(), { written: 0, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
})

test('flush waits for the batch in flight and the sink\'s queue, not only the batcher', async () => {
  const sink = new MemorySink({ delayMs: 20 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 10 })
  for (let i = 0; i < 95; i++) store.record(makeEvent(i))
  await store.flush()
  assert.equal(sink.events.length, 95)
  await store.close()
})

test('overlapping flushes each resolve, in order, each counting the events of the flushes still pending when it was called', async () => {
  const sink = new MemorySink({ delayMs: 5 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 4 })
  const order: number[] = []
  const flushes: Array<Promise<unknown>> = []
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5; i++) store.record(makeEvent(round * 5 + i))
    const expected = (round + 1) * 5
    flushes.push(store.flush().then((result) => {
      order.push(round)
      // Everything before this flush is stored when it resolves.
      assert.ok(sink.events.length >= expected)
      return result
    }))
  }
  const results = await Promise.all(flushes)
  assert.deepEqual(order, [0, 1, 2, 3])
  assert.deepEqual(results.map((r) => (r as { written: number }).written), [5, 10, 15, 20])
  await store.close()
})

test('events recorded during a flush go behind its marker and are delivered by the next one', async () => {
  const sink = new MemorySink({ delayMs: 10 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 5 })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i))
  const first = store.flush()
  for (let i = 10; i < 13; i++) store.record(makeEvent(i)) // during the flush
  assert.deepEqual(await first, { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  assert.deepEqual(await store.flush(), { written: 3, deadLettered: 0, dropped: 0, lost: 0 })
  assert.deepEqual(seqs(sink.events), Array.from({ length: 13 }, (_, i) => i))
  await store.close()
})

test('events recorded during a flush do not hold it up', async () => {
  const sink = new MemorySink({ delayMs: 5 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 10 })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i))
  const flushing = store.flush()
  let stop = false
  void flushing.finally(() => { stop = true })
  let n = 10
  // A producer that never stops while the flush is pending.
  while (!stop && n < 5_000) {
    store.record(makeEvent(n++))
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal(stop, true, 'flush settled while events kept arriving')
  assert.equal((await flushing).written, 10)
  await store.close()
})

test('a flush against a rejecting sink rejects with the right counts and a filled dead letter', async () => {
  const sink = new ScriptedSink(['ok', 'rejected', 'ok'])
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet, batchSize: 3 })
  for (let i = 0; i < 8; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), (err: unknown) => {
    assert.ok(err instanceof FlushError)
    assert.equal(err.code, 'AUDIT_ERR_FLUSH_INCOMPLETE')
    assert.deepEqual(err.result, { written: 5, deadLettered: 3, dropped: 0, lost: 0 })
    return true
  })
  assert.deepEqual(seqs(deadLetter.events()), [3, 4, 5])
  assert.deepEqual(seqs(sink.stored.map((j) => JSON.parse(j) as unknown)), [0, 1, 2, 6, 7])
  await store.close()
})

test('a flush called while an earlier one is pending rejects when the earlier one\'s events were lost', async () => {
  // Two callers share a store: A's events went ahead of B's marker, then A flushed.
  const sink = new ScriptedSink(['rejected'])
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet })
  store.record(makeEvent(1)) // caller A
  const flushB = store.flush() // caller B, with nothing of its own
  const flushA = store.flush() // caller A
  await assert.rejects(flushB, FlushError)
  await assert.rejects(flushA, (err: unknown) => err instanceof FlushError && err.result.deadLettered === 1)
  // Once that flush has settled, the next one covers only what came after it.
  store.record(makeEvent(2))
  assert.deepEqual(await store.flush(), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
})

test('a flush reports drops since the previous flush', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet, bufferSize: 2 })
  assert.equal(store.record(makeEvent(1)), true)
  assert.equal(store.record(makeEvent(2)), true)
  assert.equal(store.record(makeEvent(3)), false)
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.dropped === 1 && err.result.written === 2)
  assert.equal(store.record(makeEvent(4)), true)
  assert.deepEqual(await store.flush(), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
  await assert.rejects(store.close(), { code: 'AUDIT_ERR_LOSS' })
})

test('a flush timeout rejects with TimeoutError and loses nothing', async () => {
  const sink = new MemorySink({ delayMs: 200 })
  const store = createAuditStore({ sink, ...quiet })
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush({ timeoutMs: 20 }), (err: unknown) => err instanceof TimeoutError && err.code === 'AUDIT_ERR_TIMEOUT')
  // The timed-out flush is still pending, so the next one covers its events too.
  assert.deepEqual(await store.flush(), { written: 5, deadLettered: 0, dropped: 0, lost: 0 })
  assert.equal(sink.events.length, 5)
  await store.close()
})

test('an aborted flush rejects with AbortError carrying the signal\'s reason, and loses nothing', async () => {
  const sink = new MemorySink({ delayMs: 100 })
  const store = createAuditStore({ sink, ...quiet })
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  const controller = new AbortController()
  const reason = new Error('shutting down')
  const flushing = store.flush({ signal: controller.signal })
  controller.abort(reason)
  await assert.rejects(flushing, (err: unknown) => err instanceof AbortError && err.cause === reason)
  await assert.rejects(store.flush({ signal: AbortSignal.abort(reason) }), AbortError)
  await store.flush()
  assert.equal(sink.events.length, 5)
  await store.close()
})

test('flush rejects a bad timeoutMs with InvalidOptionError', () => {
  const store = createAuditStore({ sink: new MemorySink(), ...quiet })
  assert.throws(() => store.flush({ timeoutMs: -5 }), { code: 'AUDIT_ERR_INVALID_OPTION' })
})

test('after the store has ended, flush resolves when the sink finishes', async () => {
  const sink = new MemorySink({ delayMs: 10 })
  const store = createAuditStore({ sink, ...quiet })
  for (let i = 0; i < 7; i++) store.record(makeEvent(i))
  store.end()
  const result = await store.flush()
  assert.equal(result.written, 7)
  assert.equal(sink.events.length, 7)
  assert.equal(sink.writableFinished, true)
})
