import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  AuditLossError, AuditStore, AuditValidationError, CloseTimeoutError, MemorySink, StoreClosedError, createAuditStore,
  type DropEventInfo
} from '../../lib/index.js'
import { MemoryDeadLetter, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { waitFor } from '../helpers/wait-for.js'

const quiet = { logger: silentLogger, batchSize: 1000, flushIntervalMs: 60_000 }

function * events (count: number, from = 0): Generator<unknown> {
  for (let i = from; i < from + count; i++) yield makeEvent(i)
}

test('close drains every pending event and resolves with the final stats', async () => {
  const sink = new MemorySink({ delayMs: 5 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 7 })
  for (let i = 0; i < 50; i++) store.record(makeEvent(i))
  const stats = await store.close()
  assert.equal(sink.events.length, 50)
  assert.deepEqual(stats, { accepted: 50, dropped: 0, invalid: 0, written: 50, deadLettered: 0, lost: 0, retries: 0, batches: 8, pending: 0, inFlight: 0, recovered: 0, spooled: { events: 0, bytes: 0 }, spoolCorrupt: { bytes: 0, events: 0 } })
})

test('close is idempotent: every caller gets the same promise', async () => {
  const store = createAuditStore({ sink: new MemorySink(), ...quiet })
  store.record(makeEvent(1))
  const a = store.close()
  const b = store.close()
  assert.equal(a, b)
  await a
  assert.equal(store.close(), a)
})

test('record drops at capacity with exact counts and a drop event', async () => {
  const sink = new MemorySink({ delayMs: 50 })
  const store = createAuditStore({ sink, ...quiet, bufferSize: 100, batchSize: 10 })
  const drops: DropEventInfo[] = []
  store.on('drop', (info: DropEventInfo) => drops.push(info))
  let accepted = 0
  for (let i = 0; i < 150; i++) if (store.record(makeEvent(i))) accepted++
  assert.equal(accepted, 100)
  assert.equal(drops.length, 50)
  assert.ok(drops.every((d) => d.reason === 'full' && d.count === 1))
  const stats = store.stats()
  assert.equal(stats.accepted, 100)
  assert.equal(stats.dropped, 50)
  assert.equal(stats.pending, 100)
  await assert.rejects(store.close(), (err: unknown) => err instanceof AuditLossError && err.stats.dropped === 50 && err.stats.written === 100)
  assert.deepEqual(seqs(sink.events), Array.from({ length: 100 }, (_, i) => i))
})

test('record refuses events once the store is closing, without throwing', async () => {
  const store = createAuditStore({ sink: new MemorySink(), ...quiet })
  const closing = store.close()
  assert.equal(store.record(makeEvent(1)), false)
  assert.equal(store.stats().dropped, 1)
  await assert.rejects(closing, AuditLossError)
})

test('record throws AuditValidationError with issues for an invalid event and keeps the store running', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet, maxEventBytes: 1024 })
  assert.throws(() => store.record({ ...makeEvent(1), event_outcome: 'maybe' } as never), (err: unknown) => {
    assert.ok(err instanceof AuditValidationError)
    assert.deepEqual(err.issues.map((i) => i.path), ['event_outcome'])
    return true
  })
  assert.throws(() => store.record({ ...makeEvent(1), event_data: { big: 'x'.repeat(2000) } }), AuditValidationError)
  store.record(makeEvent(2))
  assert.equal((await store.flush()).written, 1)
  assert.equal(store.stats().invalid, 2)
  await store.close()
})

test('mutating an event after record does not change what is stored', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet })
  const event = makeEvent(1)
  store.record(event)
  event.event_data.seq = 999
  event.correlation_id = 'changed'
  await store.flush()
  assert.deepEqual(seqs(sink.events), [1])
  assert.equal((sink.events[0] as { correlation_id: string }).correlation_id, 'test')
  await store.close()
})

test('invalid events through the stream are dead-lettered and emitted as drop, and the stream keeps running', async () => {
  const sink = new MemorySink()
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet })
  const drops: DropEventInfo[] = []
  store.on('drop', (info: DropEventInfo) => drops.push(info))
  const circular: Record<string, unknown> = { seq: 'loop' }
  circular.self = circular
  const input = [makeEvent(0), { nope: true }, makeEvent(1), { ...makeEvent(99), event_data: circular }, makeEvent(2)]
  await pipeline(Readable.from(input), store)
  assert.deepEqual(seqs(sink.events), [0, 1, 2])
  assert.equal(deadLetter.entries.length, 2)
  assert.ok(deadLetter.entries.every((e) => e.reason === 'invalid' && e.attempts === 0 && e.error?.code === 'AUDIT_ERR_INVALID_EVENT'))
  assert.deepEqual(JSON.parse(deadLetter.entries[0]!.events[0]!), { nope: true })
  assert.match(deadLetter.entries[1]!.events[0]!, /Circular/)
  assert.deepEqual(drops.map((d) => d.reason), ['invalid', 'invalid'])
  const stats = store.stats()
  assert.equal(stats.invalid, 2)
  assert.equal(stats.deadLettered, 2)
  assert.equal(stats.written, 3)
})

test('an invalid stream event makes the covering flush reject, and only that one', async () => {
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink: new MemorySink(), deadLetter, ...quiet })
  store.write(makeEvent(1))
  store.write({ bad: 1 })
  await assert.rejects(store.flush(), (err: unknown) => (err as { result?: { deadLettered: number, written: number } }).result?.deadLettered === 1)
  store.write(makeEvent(2))
  assert.deepEqual(await store.flush(), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
})

test('await pipeline(source, store) means every event was delivered', async () => {
  const sink = new MemorySink({ delayMs: 2 })
  const store = createAuditStore({ sink, ...quiet, batchSize: 100 })
  await pipeline(Readable.from(events(2_345)), store)
  assert.equal(sink.events.length, 2_345)
  assert.equal(store.stats().pending, 0)
})

test('pipe backpressure against a slow sink keeps pending bounded and drops nothing', async () => {
  const bufferSize = 200
  const batchSize = 50
  const sink = new MemorySink({ delayMs: 5 })
  const store = createAuditStore({ sink, ...quiet, bufferSize, batchSize })
  let peak = 0
  const timer = setInterval(() => { peak = Math.max(peak, store.stats().pending) }, 1)
  const source = Readable.from(events(5_000))
  source.on('data', () => { peak = Math.max(peak, store.stats().pending) })
  await pipeline(source, store)
  clearInterval(timer)
  assert.equal(sink.events.length, 5_000)
  assert.equal(store.stats().dropped, 0)
  // The entry holds bufferSize; the batcher, its output and the sink a few batches.
  assert.ok(peak <= bufferSize + 6 * batchSize, `pending peaked at ${peak}`)
  assert.ok(peak >= bufferSize / 2, `the buffer was actually used (peak ${peak})`)
})

test('write returns false once bufferSize events are pending, and drain follows when they settle', async () => {
  const sink = new MemorySink({ delayMs: 20 })
  const store = createAuditStore({ sink, ...quiet, bufferSize: 5, batchSize: 2 })
  const results = Array.from({ length: 8 }, (_, i) => store.write(makeEvent(i)))
  assert.deepEqual(results, [true, true, true, true, false, false, false, false])
  await new Promise((resolve) => store.once('drain', resolve))
  assert.ok(store.stats().pending < 5)
  await store.close()
  assert.equal(sink.events.length, 8)
})

test('a write after the store ended is refused through the callback, never as an error event', async () => {
  const store = createAuditStore({ sink: new MemorySink(), ...quiet })
  let errored = false
  store.on('error', () => { errored = true })
  await store.close()
  const err = await new Promise<Error | null | undefined>((resolve) => store.write(makeEvent(1), resolve))
  assert.ok(err instanceof StoreClosedError)
  assert.equal(err.code, 'AUDIT_ERR_CLOSED')
  assert.equal(store.write(makeEvent(2)), false)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(errored, false)
  assert.equal(store.stats().dropped, 2)
})

test('close timeout aborts sends in flight, dead-letters every unsent event with reason shutdown and rejects with CloseTimeoutError', async () => {
  const sink = new ScriptedSink(['hang'], { fallback: 'ok' })
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet, batchSize: 10, lanes: 0 })
  for (let i = 0; i < 35; i++) store.record(makeEvent(i))
  const started = Date.now()
  await assert.rejects(store.close({ timeoutMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof CloseTimeoutError)
    assert.equal(err.code, 'AUDIT_ERR_CLOSE_TIMEOUT')
    assert.equal(err.stats.deadLettered, 35)
    assert.equal(err.stats.lost, 0)
    assert.equal(err.stats.pending, 0)
    return true
  })
  assert.ok(Date.now() - started < 5_000)
  assert.ok(deadLetter.entries.every((e) => e.reason === 'shutdown'))
  assert.deepEqual(seqs(deadLetter.events()), Array.from({ length: 35 }, (_, i) => i))
})

test('a dead letter that never answers cannot hold close() up: after twice the timeout the rest is counted lost', async () => {
  const sink = new ScriptedSink(['hang'])
  const store = createAuditStore({ sink, deadLetter: { write: () => new Promise<void>(() => {}) }, ...quiet, batchSize: 10, lanes: 0 })
  for (let i = 0; i < 25; i++) store.record(makeEvent(i))
  const started = Date.now()
  await assert.rejects(store.close({ timeoutMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof CloseTimeoutError)
    assert.equal(err.stats.lost, 25)
    return true
  })
  assert.ok(Date.now() - started < 3_000)
})

test('close timeout also ends a retry sleep at once', async () => {
  const sink = new ScriptedSink([], { fallback: 'retryable', retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 } })
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet })
  store.record(makeEvent(1))
  const started = Date.now()
  await assert.rejects(store.close({ timeoutMs: 50 }), CloseTimeoutError)
  assert.ok(Date.now() - started < 2_000)
  assert.equal(deadLetter.entries[0]?.reason, 'shutdown')
  assert.equal(deadLetter.entries[0]?.attempts, 1)
})

test('destroy counts every unsettled event lost exactly once, even when a send under way settles later', async () => {
  const sink = new ScriptedSink(['ok', 'hang'])
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, ...quiet, batchSize: 10, lanes: 0 })
  let errored = false
  store.on('error', () => { errored = true })
  for (let i = 0; i < 35; i++) store.record(makeEvent(i))
  await waitFor(() => store.stats().written === 10 && sink.attempts.length === 2, {
    what: 'the first batch written and the second one sending',
    detail: () => `${store.stats().written} written, ${sink.attempts.length} attempts`
  })
  store.destroy()
  assert.equal(store.stats().lost, 25, 'destroy counts the hanging batch and the queued one lost at once')
  // The aborted send gives its batch to the dead letter after the destroy; the ledger settles (or, here,
  // refuses) it within the microtasks that follow the write, which have all run by the next poll.
  await waitFor(() => deadLetter.entries.length === 1, { what: 'the aborted batch to reach the dead letter late' })
  assert.equal(deadLetter.entries[0]!.events.length, 10)
  const stats = store.stats()
  assert.equal(stats.written, 10)
  assert.equal(stats.lost, 25)
  assert.equal(stats.deadLettered, 0, 'the late dead-lettering is not counted on top of the loss')
  assert.equal(stats.written + stats.deadLettered + stats.lost, stats.accepted)
  assert.equal(stats.pending, 0)
  assert.equal(errored, false)
})

test('stats returns a fresh object each time', () => {
  const store = createAuditStore({ sink: new MemorySink(), ...quiet })
  const a = store.stats()
  const b = store.stats()
  assert.notEqual(a, b)
  assert.deepEqual(a, b)
  store.destroy()
})

test('a store is an object-mode Writable constructed with new or createAuditStore', () => {
  const store = new AuditStore({ sink: new MemorySink(), ...quiet })
  assert.equal(store.writableObjectMode, true)
  assert.equal(store.writableHighWaterMark, 10_000)
  store.destroy()
})

test('the constructor rejects a sink that is not a BatchSink', () => {
  assert.throws(() => createAuditStore({ sink: { write () { return true } } as never }), { code: 'AUDIT_ERR_INVALID_OPTION' })
})

test('write() without a callback stores the event as it was at the call, even while the entry is corked', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet })
  const event = makeEvent(1)
  store.cork()
  store.write(event)
  event.event_data = { seq: 99 }
  store.uncork()
  await store.flush()
  assert.deepEqual(seqs(sink.events), [1])
  await store.close()
})

test('write() and record() interleaved with invalid writes keep their order, and each invalid one is dead-lettered in its place', async () => {
  const sink = new MemorySink()
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, ...quiet, batchSize: 3, deadLetter })
  const invalid = { ...makeEvent(-1), event_outcome: 'maybe' }
  const written: boolean[] = []
  for (let i = 0; i < 20; i++) {
    if (i % 7 === 3) written.push(store.write(invalid))
    if (i % 2 === 0) store.record(makeEvent(i))
    else written.push(store.write(makeEvent(i)))
  }
  await assert.rejects(store.flush(), (err: unknown) => (err as { result?: { written: number, deadLettered: number } }).result?.deadLettered === 3)
  assert.deepEqual(seqs(sink.events), Array.from({ length: 20 }, (_, i) => i))
  assert.equal(deadLetter.entries.length, 3)
  assert.ok(deadLetter.entries.every((entry) => entry.reason === 'invalid'))
  assert.ok(written.every((ok) => ok))
  const stats = store.stats()
  assert.deepEqual([stats.accepted, stats.written, stats.deadLettered, stats.invalid, stats.pending], [23, 20, 3, 3, 0])
  await store.close()
})

test('write() with a callback also stores the event as it was at the call', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, ...quiet })
  const event = makeEvent(1)
  store.cork()
  const taken = new Promise((resolve) => store.write(event, resolve))
  event.event_data = { seq: 99 }
  store.uncork()
  assert.equal(await taken, undefined)
  await store.flush()
  assert.deepEqual(seqs(sink.events), [1])
  await store.close()
})
