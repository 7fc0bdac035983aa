/**
 * 4. Memory: 100 000 events pending behind a blocked sink. Heap and RSS
 * growth per event, divided by the event's serialized size. Also: pending
 * never passes bufferSize, and record() drops beyond it.
 */
import { BatchSink, createAuditStore, type SendContext } from '../../../lib/index.js'
import { silent, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, yieldToLoop } from '../harness.js'

// A sink of its own, not the test suite's ScriptedSink, whose records would add to the heap measured.
class BlockedSink extends BatchSink {
  protected sendBatch (_batch: unknown, ctx: SendContext): Promise<void> {
    return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))
  }
}

export async function memory (reps: number): Promise<Row[]> {
  const pendingTarget = 100_000
  // Distinct events, so that strings are not shared between them.
  const events = makeEvents(pendingTarget, 500)
  const serialized = meanBytes(events.slice(0, 1000))
  let peakPending = 0
  let dropped = 0
  const measure = (which: 'heap' | 'rss') => async (): Promise<number> => {
    global.gc?.()
    await yieldToLoop()
    const before = process.memoryUsage()
    const store = createAuditStore({ sink: new BlockedSink(), logger: silent, bufferSize: pendingTarget, closeTimeoutMs: 1 })
    for (let i = 0; i < pendingTarget; i++) {
      store.record(events[i]!)
      if (i % 1000 === 999) await yieldToLoop()
    }
    for (let i = 0; i < 100; i++) if (!store.record(events[i]!)) dropped++
    await yieldToLoop()
    peakPending = Math.max(peakPending, store.stats().pending)
    global.gc?.()
    const after = process.memoryUsage()
    const grown = which === 'heap' ? after.heapUsed - before.heapUsed : after.rss - before.rss
    // Let the destroyed store's deliveries settle so the next repetition starts from a clean heap.
    const closed = new Promise((resolve) => store.once('close', resolve))
    store.destroy()
    await closed
    await new Promise((resolve) => setTimeout(resolve, 50))
    return grown / pendingTarget / serialized
  }
  const [heap, rss] = await compare([{ name: 'heap per pending event / serialized size', run: measure('heap') }, { name: 'RSS per pending event / serialized size', run: measure('rss') }], { reps, warmup: 1 })
  const note = `${pendingTarget} events of ${Math.round(serialized)} B pending; peak pending ${peakPending} (bufferSize ${pendingTarget}); ${dropped} of ${100 * (reps + 1) * 2} extra record() calls dropped`
  return [
    { scenario: '4. memory', contender: heap!.name, unit: 'x', median: heap!.median, spread: spread(heap!), ratio: { against: 'serialized', value: heap!.median, target: '<= 2', met: heap!.median <= 2 && peakPending <= pendingTarget }, note },
    { scenario: '4. memory', contender: rss!.name, unit: 'x', median: rss!.median, spread: spread(rss!), ratio: { against: 'serialized', value: rss!.median, target: '<= 2', met: rss!.median <= 2 } }
  ]
}
