import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FlushError, StoreClosedError } from '../../lib/index.js'
import { FlushMarker } from '../../lib/accounting/flush-marker.js'
import { Ledger } from '../../lib/accounting/ledger.js'
import { captureLogger, silentLogger } from '../helpers/fixtures.js'

test('a marker resolves with the counts of its events when the ledger shows every one written', async () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(5)
  const marker = new FlushMarker(ledger, 0)
  ledger.settle([0, 2], 'written')
  ledger.settle([3, 4], 'written')
  marker.settle(ledger)
  assert.deepEqual(await marker.promise, { written: 5, deadLettered: 0, dropped: 0, lost: 0 })
})

for (const outcome of ['deadLettered', 'lost'] as const) {
  test(`a marker rejects with FlushError when any of its events was ${outcome}`, async () => {
    const ledger = new Ledger(silentLogger)
    ledger.accept(5)
    const marker = new FlushMarker(ledger, 0)
    ledger.settle([0, 3], 'written')
    ledger.settle([4, 4], outcome)
    marker.settle(ledger)
    await assert.rejects(marker.promise, (err: unknown) => err instanceof FlushError && err.result[outcome] === 1 && err.result.written === 4)
  })
}

test('a marker rejects with FlushError when any event was dropped before it', async () => {
  const ledger = new Ledger(silentLogger)
  const marker = new FlushMarker(ledger, 2)
  marker.settle(ledger)
  await assert.rejects(marker.promise, (err: unknown) => err instanceof FlushError && err.result.dropped === 2)
})

test('a marker never resolves optimistically: events still unsettled when it settles are counted lost and logged', async () => {
  const { logger, lines } = captureLogger('error')
  const ledger = new Ledger(logger)
  ledger.accept(10)
  const marker = new FlushMarker(ledger, 0)
  ledger.settle([0, 3], 'written')
  ledger.settle([6, 9], 'written')
  marker.settle(ledger)
  await assert.rejects(marker.promise, (err: unknown) => err instanceof FlushError && err.result.lost === 2 && err.result.written === 8)
  assert.equal(ledger.pending, 0)
  assert.equal(ledger.settled().lost, 2)
  assert.ok(lines.some((l) => (JSON.parse(l) as { msg: string, count: number }).count === 2))
})

test('a marker covers only the events after a previous marker already settled', async () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(3)
  const first = new FlushMarker(ledger, 0)
  ledger.settle([0, 2], 'deadLettered')
  first.settle(ledger)
  ledger.accept(4)
  const second = new FlushMarker(ledger, 0, first)
  ledger.settle([3, 6], 'written')
  second.settle(ledger)
  await assert.rejects(first.promise, FlushError)
  assert.deepEqual(await second.promise, { written: 4, deadLettered: 0, dropped: 0, lost: 0 })
})

test('a marker made while an earlier one is pending takes over its counts', async () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(3)
  const first = new FlushMarker(ledger, 1)
  ledger.accept(2)
  const second = new FlushMarker(ledger, 0, first)
  ledger.settle([0, 4], 'written')
  first.settle(ledger)
  second.settle(ledger)
  await assert.rejects(second.promise, (err: unknown) => err instanceof FlushError && err.result.written === 5 && err.result.dropped === 1)
})

test('a marker settled from the ledger settles once: later settle and fail calls change nothing', async () => {
  const { logger, lines } = captureLogger('error')
  const ledger = new Ledger(logger)
  ledger.accept(3)
  const marker = new FlushMarker(ledger, 0)
  ledger.settle([0, 1], 'written')
  marker.settle(ledger) // event 2 is unsettled: counted lost
  assert.equal(marker.settled, true)
  const logged = lines.length
  ledger.accept(2) // events after the marker, not its own
  marker.settle(ledger)
  marker.fail(new Error('late'))
  marker.settle(ledger)
  assert.equal(marker.settled, true)
  await assert.rejects(marker.promise, (err: unknown) => err instanceof FlushError && err.result.written === 2 && err.result.lost === 1)
  assert.deepEqual(ledger.settled(), { written: 2, deadLettered: 0, lost: 1 }, 'the ledger counts what the first settle counted, once')
  assert.equal(ledger.pending, 2, 'the later settles leave the events after the marker pending')
  assert.equal(lines.length, logged, 'the later settles log nothing more')
})

test('a failed marker settles once: later settle and fail calls change nothing', async () => {
  const { logger, lines } = captureLogger('error')
  const ledger = new Ledger(logger)
  ledger.accept(3)
  const marker = new FlushMarker(ledger, 0)
  ledger.accept(2)
  const next = new FlushMarker(ledger, 0, marker) // made while `marker` is pending: takes over its counts
  ledger.settle([0, 0], 'written')
  const tornDown = new Error('torn down')
  marker.fail(tornDown)
  assert.equal(marker.settled, true)
  marker.settle(ledger)
  marker.fail(new Error('late'))
  await assert.rejects(marker.promise, (err: unknown) => err === tornDown)
  assert.equal(ledger.pending, 4, 'a settle after the fail counts none of the marker\'s unsettled events lost')
  assert.deepEqual(ledger.settled(), { written: 1, deadLettered: 0, lost: 0 })
  assert.deepEqual(lines, [])
  // The marker gave no counts: the flush that took it over fails too, even with all its own events written.
  ledger.settle([1, 4], 'written')
  next.settle(ledger)
  await assert.rejects(next.promise, (err: unknown) => err instanceof StoreClosedError)
})

test('a failed marker that nobody awaits does not raise an unhandled rejection', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  new FlushMarker(new Ledger(silentLogger), 0).fail(new Error('torn down'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  process.off('unhandledRejection', onUnhandled)
  assert.deepEqual(unhandled, [])
})
