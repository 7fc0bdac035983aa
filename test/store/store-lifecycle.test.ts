/**
 * Lifecycle edges of the store: destroyed, null writes, drops in the logs, a
 * sink whose release() is not async.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StoreClosedError, createAuditStore } from '../../lib/index.js'
import { DROP_LOG_INTERVAL_MS } from '../../lib/accounting/drop-log.js'
import { captureLogger, makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'

test('flush() after destroy() rejects at once with StoreClosedError', { timeout: 5_000 }, async () => {
  const store = createAuditStore({ sink: new ScriptedSink(), logger: silentLogger })
  store.record(makeEvent(1))
  store.destroy()
  await assert.rejects(store.flush(), StoreClosedError)
})

test('flush() on an idle destroyed store rejects at once with StoreClosedError', { timeout: 5_000 }, async () => {
  const store = createAuditStore({ sink: new ScriptedSink(), logger: silentLogger })
  store.destroy()
  await assert.rejects(store.flush(), StoreClosedError)
})

test('write(null) throws and counts nothing: two of them with bufferSize 2 leave the store open for events', { timeout: 5_000 }, async () => {
  const sink = new ScriptedSink()
  const store = createAuditStore({ sink, logger: silentLogger, bufferSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 2; i++) assert.throws(() => store.write(null), { code: 'ERR_STREAM_NULL_VALUES' })
  assert.equal(store.stats().pending, 0)
  assert.equal(store.stats().accepted, 0)
  assert.equal(store.record(makeEvent(1)), true)
  assert.deepEqual(await store.flush(), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
})

test('a last chunk given to end() is numbered and delivered like any write', { timeout: 5_000 }, async () => {
  const sink = new ScriptedSink()
  const store = createAuditStore({ sink, logger: silentLogger })
  store.write(makeEvent(1))
  store.end(makeEvent(2))
  const stats = await store.close()
  assert.equal(stats.written, 2)
  assert.equal(stats.accepted, 2)
  assert.equal(sink.stored.length, 2)
})

// Stays a subclass: what these tests guard against is a subclass's own override, one that forgot `async`.
class SyncReleaseSink extends ScriptedSink {
  released = 0
  // A subclass that forgot `async`: release() returns nothing.
  protected override release (): Promise<void> {
    this.released++
    return undefined as unknown as Promise<void>
  }
}

test('a sink whose release() returns no Promise does not crash close()', { timeout: 5_000 }, async () => {
  const sink = new SyncReleaseSink()
  const store = createAuditStore({ sink, logger: silentLogger })
  store.record(makeEvent(1))
  const stats = await store.close()
  assert.equal(stats.written, 1)
  assert.equal(sink.released, 1)
})

test('a sink whose release() returns no Promise does not crash destroy()', { timeout: 5_000 }, async () => {
  const sink = new SyncReleaseSink()
  const errors: unknown[] = []
  sink.on('error', (err: unknown) => errors.push(err))
  const store = createAuditStore({ sink, logger: silentLogger })
  assert.doesNotThrow(() => store.destroy())
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(sink.released, 1)
  assert.deepEqual(errors, [])
})

test('a sink destroyed with an error tears the store down without an unhandled error event: flush rejects, the events count lost', { timeout: 5_000 }, async () => {
  const sink = new ScriptedSink(['hang'])
  const { logger, lines } = captureLogger('error')
  const store = createAuditStore({ sink, logger, flushIntervalMs: 60_000 })
  for (let seq = 0; seq < 5; seq++) store.record(makeEvent(seq))
  const flushed = store.flush()
  await new Promise((resolve) => setImmediate(resolve))
  // Without the fix the store re-emits the sink's error as 'error' with no listener: an uncaught exception.
  sink.destroy(new Error('the sink gave up'))
  await assert.rejects(flushed, StoreClosedError)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(store.destroyed, true)
  const stats = store.stats()
  assert.equal(stats.lost, 5)
  assert.equal(stats.pending, 0)
  assert.ok(lines.some((l) => l.includes('the sink gave up')), 'the sink\'s error is logged')
})

test('drops are logged: one warning at the first, then one summary with the count every 10 s at most', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { logger, lines } = captureLogger('warn')
  const store = createAuditStore({ sink: new ScriptedSink(['hang']), logger, bufferSize: 1, flushIntervalMs: 60_000 })
  t.after(() => { store.destroy() })
  assert.equal(store.record(makeEvent(0)), true)
  const drops = (): Array<{ level: number, msg: string, count: number }> => lines.map((l) => JSON.parse(l) as { level: number, msg: string, count: number }).filter((l) => l.msg.includes('dropped'))
  for (let i = 1; i <= 100; i++) assert.equal(store.record(makeEvent(i)), false)
  assert.deepEqual(drops().map((l) => [l.level, l.msg, l.count]), [[40, 'event dropped', 1]])
  t.mock.timers.tick(DROP_LOG_INTERVAL_MS - 1)
  assert.equal(drops().length, 1)
  t.mock.timers.tick(1)
  assert.deepEqual(drops().map((l) => [l.msg, l.count]), [['event dropped', 1], ['events dropped', 99]])
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  t.mock.timers.tick(DROP_LOG_INTERVAL_MS)
  assert.deepEqual(drops().map((l) => [l.msg, l.count]), [['event dropped', 1], ['events dropped', 99], ['events dropped', 5]])
  // A quiet interval ends the summaries; the next drop is logged at once again.
  t.mock.timers.tick(DROP_LOG_INTERVAL_MS)
  t.mock.timers.tick(DROP_LOG_INTERVAL_MS)
  assert.equal(drops().length, 3)
  store.record(makeEvent(0))
  assert.deepEqual(drops().at(-1)!.msg, 'event dropped')
})

