/**
 * 3. Flush drain: 10 000 events pending ahead of the batcher (recorded in one
 * tick, so none has moved yet), a sink that acknowledges at once. The time
 * from flush() to its resolution, minus the time spent inside the sink.
 */
import { BatchSink, createAuditStore } from '../../../lib/index.js'
import { silent, type Row } from '../common.js'
import { makeEvents } from '../events.js'
import { compare, spread } from '../harness.js'

// A sink of its own, not the test suite's ScriptedSink, so that the sink adds nothing to what is measured.
class TimedSink extends BatchSink {
  ms = 0
  protected async sendBatch (): Promise<void> {
    const started = performance.now()
    this.ms += performance.now() - started
  }
}

export async function flushDrain (reps: number): Promise<Row[]> {
  const events = makeEvents(10_000, 500)
  const run = async (): Promise<number> => {
    const sink = new TimedSink()
    const store = createAuditStore({ sink, logger: silent, batchSize: 1000, flushIntervalMs: 60_000, bufferSize: 20_000 })
    for (const event of events) store.record(event)
    const started = performance.now()
    const result = await store.flush()
    const ms = performance.now() - started - sink.ms
    if (result.written !== events.length) throw new Error(`flush wrote ${result.written}`)
    await store.close()
    return ms
  }
  const [m] = await compare([{ name: 'flush() of 10 000 pending events', run }], { reps: Math.max(reps, 20), warmup: 3 })
  return [{
    scenario: '3. flush drain', contender: m!.name, unit: 'ms', median: m!.median, spread: spread(m!),
    ratio: { against: 'per 10 000 events', value: m!.median, target: '<= 1 ms', met: m!.median <= 1 }
  }]
}
