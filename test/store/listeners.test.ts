/**
 * Listener code can never break delivery: every event the store emits goes
 * through one guard, and a listener that throws is logged and ignored.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { MemorySink, SinkError, createAuditStore, type DropEventInfo } from '../../lib/index.js'
import { MemoryDeadLetter, captureLogger, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { waitFor } from '../helpers/wait-for.js'

const POISON = 3

/**
 * Fails the first attempt (so that 'retry' is emitted), then, when `poison`,
 * refuses with a split any batch holding the poison event: the server's 400 for one bad item.
 */
function poisonSink (poison: boolean): ScriptedSink {
  return new ScriptedSink([new SinkError('HTTP 503', { retryable: true, statusCode: 503 })], {
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    fallback: (batch) => poison && batch.events.some((e) => e.includes(`"seq":${POISON}}`))
      ? new SinkError('HTTP 400', { retryable: false, split: true, statusCode: 400 })
      : 'ok'
  })
}

// Every event name a store emits in a delivery: the library's own and the stream's.
const names = ['batch', 'retry', 'dead-letter', 'drop', 'drain', 'finish', 'close'] as const

for (const split of [false, true]) {
  for (const name of names) {
    test(`a '${name}' listener that throws during ${split ? 'a 400 split' : 'a plain delivery'} is logged and delivery and accounting go on`, { timeout: 10_000 }, async () => {
      const sink = poisonSink(split)
      const deadLetter = new MemoryDeadLetter()
      const { logger, lines } = captureLogger('warn')
      const store = createAuditStore({ sink, deadLetter, logger, bufferSize: 4, batchSize: 100, flushIntervalMs: 60_000 })
      let calls = 0
      store.on(name, () => { calls++; throw new Error('listener bug') })
      // Six events through write() (past bufferSize: 'drain' is owed), one invalid, one refused by record() ('full').
      for (let seq = 0; seq < 6; seq++) store.write(makeEvent(seq))
      store.write({ not: 'an event' })
      assert.equal(store.record(makeEvent(99)), false)
      await store.flush().catch(() => {})
      await store.close().catch(() => {})
      const expected = split ? [0, 1, 2, 4, 5] : [0, 1, 2, 3, 4, 5]
      assert.deepEqual(seqs(sink.stored.map((e) => JSON.parse(e) as unknown)), expected)
      const stats = store.stats()
      assert.equal(stats.pending, 0)
      assert.equal(stats.lost, 0)
      assert.equal(stats.written, expected.length)
      assert.equal(stats.deadLettered, split ? 2 : 1)
      assert.equal(stats.dropped, 1)
      assert.ok(calls > 0, `'${name}' was never emitted`)
      const logged = lines.map((l) => JSON.parse(l) as { level: number, msg: string, event?: string })
        .filter((l) => l.msg === 'listener threw' && l.event === name)
      assert.ok(logged.length > 0 && logged.every((l) => l.level === 50), `no error log for '${name}'`)
    })
  }
}

test('a retry listener that throws once does not make flush resolve with the events still pending', { timeout: 10_000 }, async () => {
  const sink = new ScriptedSink(['retryable'])
  const { logger } = captureLogger('fatal')
  const store = createAuditStore({ sink, logger, flushIntervalMs: 60_000 })
  store.once('retry', () => { throw new Error('listener bug') })
  for (let seq = 0; seq < 10; seq++) store.record(makeEvent(seq))
  const result = await store.flush()
  assert.deepEqual(result, { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  const stats = await store.close()
  assert.equal(stats.pending, 0)
  assert.equal(stats.written, 10)
})

test('a batch listener that throws during a 400 split does not stop the second half', { timeout: 10_000 }, async () => {
  const sink = new ScriptedSink([new SinkError('HTTP 400', { retryable: false, split: true, statusCode: 400 })])
  const { logger } = captureLogger('fatal')
  const store = createAuditStore({ sink, logger, flushIntervalMs: 60_000 })
  store.on('batch', () => { throw new Error('listener bug') })
  for (let seq = 0; seq < 8; seq++) store.record(makeEvent(seq))
  assert.deepEqual(await store.flush(), { written: 8, deadLettered: 0, dropped: 0, lost: 0 })
  assert.equal(sink.stored.length, 8)
  await store.close()
})

test('a drop listener that throws on an invalid write neither stalls the store nor raises an unhandled rejection', { timeout: 10_000 }, async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  try {
    const sink = new ScriptedSink()
    const deadLetter = new MemoryDeadLetter()
    const { logger } = captureLogger('fatal')
    const store = createAuditStore({ sink, deadLetter, logger, flushIntervalMs: 60_000 })
    store.on('drop', () => { throw new Error('listener bug') })
    const written = new Promise<Error | null | undefined>((resolve) => store.write({ not: 'an event' }, resolve))
    store.write(makeEvent(1))
    assert.equal(await written, undefined)
    await assert.rejects(store.flush(), { name: 'FlushError' })
    assert.equal(sink.stored.length, 1)
    assert.equal(deadLetter.entries.length, 1)
    await store.close()
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('a drain listener that throws, added before pipeline(), does not keep the pipe from resuming', { timeout: 10_000 }, async () => {
  const sink = new MemorySink({ delayMs: 2 })
  const { logger } = captureLogger('fatal')
  const store = createAuditStore({ sink, logger, bufferSize: 8, batchSize: 4, flushIntervalMs: 10 })
  store.on('drain', () => { throw new Error('listener bug') })
  await pipeline(Readable.from(Array.from({ length: 100 }, (_, seq) => makeEvent(seq))), store)
  assert.equal(sink.events.length, 100)
  assert.equal(store.stats().written, 100)
})

test('a batch listener on the sink that throws, added before the store, does not keep the store from owing and emitting drain', { timeout: 10_000 }, async () => {
  const sink = new MemorySink({ delayMs: 2 })
  sink.on('batch', () => { throw new Error('listener bug') })
  const { logger } = captureLogger('fatal')
  const store = createAuditStore({ sink, logger, bufferSize: 8, batchSize: 4, flushIntervalMs: 10 })
  let batches = 0
  store.on('batch', () => { batches++ })
  let seq = 0
  while (store.write(makeEvent(seq++)));
  await new Promise((resolve) => store.once('drain', resolve))
  assert.ok(batches > 0, "the store's own 'batch' listener on the sink never ran")
  await store.close()
})

test('every listener of an event runs when an earlier one throws', () => {
  const { logger } = captureLogger('fatal')
  const store = createAuditStore({ sink: new MemorySink(), logger })
  const calls: string[] = []
  store.on('drop', () => { calls.push('first'); throw new Error('listener bug') })
  store.once('drop', () => { calls.push('once') })
  store.on('drop', () => { calls.push('last') })
  store.destroy()
  assert.equal(store.record(makeEvent(0)), false)
  assert.equal(store.record(makeEvent(1)), false)
  assert.deepEqual(calls, ['first', 'once', 'last', 'first', 'last'])
})

test('a drop listener that writes while the entry hands a buffered lot to the batcher loses nothing: its events are delivered and close resolves', { timeout: 10_000 }, async () => {
  const sink = new MemorySink()
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, logger: silentLogger, flushIntervalMs: 5, closeTimeoutMs: 5_000, deadLetter })
  let n = 100
  store.on('drop', (info: DropEventInfo) => { if (info.reason === 'invalid') store.write(makeEvent(n++), () => {}) })
  // The first invalid write waits on the dead letter; the next two are buffered and reach _writev together.
  store.write({ bad: 1 })
  store.write(makeEvent(2), () => {})
  store.write({ bad: 3 })
  await waitFor(() => n === 102, { what: 'the drop listener to write an event for each invalid one', detail: () => `next ${n}` })
  const stats = await store.close()
  assert.deepEqual([stats.written, stats.deadLettered, stats.lost, stats.pending], [3, 2, 0, 0])
  assert.deepEqual(seqs(sink.events).sort((a, b) => a - b), [2, 100, 101])
})
