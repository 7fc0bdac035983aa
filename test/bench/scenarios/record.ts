/**
 * 1. The record() hot path against its floor: JSON.stringify plus
 * Buffer.byteLength of the same events. Both loops yield every 1000 events,
 * so the store's pipeline runs as it would in a service.
 */
import { recordRate, scaled, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, yieldToLoop } from '../harness.js'

export async function recordHotPath (reps: number): Promise<Row[]> {
  const pool = makeEvents(10_000, 500)
  const total = scaled(1_000_000)
  const floor = async (): Promise<number> => {
    const started = performance.now()
    let sink = 0
    for (let i = 0; i < total; i++) {
      sink += Buffer.byteLength(JSON.stringify(pool[i % pool.length]))
      if (i % 1000 === 999) await yieldToLoop()
    }
    if (sink === 0) throw new Error('unreachable')
    return total / ((performance.now() - started) / 1000)
  }
  const audit = (): Promise<number> => recordRate(pool, total)
  const [f, a] = await compare([{ name: 'floor: stringify + byteLength', run: floor }, { name: 'audit-stream record()', run: audit }], { reps, warmup: 1 })
  const ratio = a!.median / f!.median
  const note = `${total} events of ${Math.round(meanBytes(pool))} B`
  return [
    { scenario: '1. record() hot path', contender: f!.name, unit: 'events/s', median: f!.median, spread: spread(f!), note },
    { scenario: '1. record() hot path', contender: a!.name, unit: 'events/s', median: a!.median, spread: spread(a!), ratio: { against: 'floor', value: ratio, target: '>= 0.95', met: ratio >= 0.95 }, note }
  ]
}
