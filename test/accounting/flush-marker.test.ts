import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FlushError } from '../../lib/index.js'
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

test('a marker settles once: later settle or fail calls change nothing', async () => {
  const ledger = new Ledger(silentLogger)
  const marker = new FlushMarker(ledger, 0)
  marker.settle(ledger)
  marker.fail(new Error('late'))
  assert.equal(marker.settled, true)
  assert.deepEqual(await marker.promise, { written: 0, deadLettered: 0, dropped: 0, lost: 0 })
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
