import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FlushError } from '../lib/index.js'
import { FlushMarker } from '../lib/flush-marker.js'

test('a marker resolves with the summed counts when every event was written', async () => {
  const marker = new FlushMarker()
  marker.add({ written: 3 })
  marker.add({ written: 2 })
  marker.settle()
  assert.deepEqual(await marker.promise, { written: 5, deadLettered: 0, dropped: 0, lost: 0 })
})

for (const field of ['deadLettered', 'dropped', 'lost'] as const) {
  test(`a marker rejects with FlushError when any event was ${field}`, async () => {
    const marker = new FlushMarker()
    marker.add({ written: 4, [field]: 1 })
    marker.settle()
    await assert.rejects(marker.promise, (err: unknown) => err instanceof FlushError && err.result[field] === 1 && err.result.written === 4)
  })
}

test('a marker settles once: later settle or fail calls change nothing', async () => {
  const marker = new FlushMarker()
  marker.settle()
  marker.fail(new Error('late'))
  assert.equal(marker.settled, true)
  assert.deepEqual(await marker.promise, { written: 0, deadLettered: 0, dropped: 0, lost: 0 })
})

test('a failed marker that nobody awaits does not raise an unhandled rejection', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  new FlushMarker().fail(new Error('torn down'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  process.off('unhandledRejection', onUnhandled)
  assert.deepEqual(unhandled, [])
})
