/**
 * 3. What ordered, chained lanes cost (issue 15), contenders alternating in
 * this process:
 * - 3a. the record() hot path (as scenario 1, a sink that discards) with
 *   lanes off (`lanes: 0`: no lane seqs, no hashing) and with the default
 *   4 lanes, whose every event is hashed twice (its bytes, then the chain
 *   link). The cost ratio is time per event with lanes over without.
 * - 3b. end to end over HTTP (as scenario 2a, burst): 4 lanes with 2 batches
 *   in flight each against the unordered sink (`lanes: 0`, the sink's
 *   concurrency 2); the discard server must count exactly N for each.
 */
import { delivered, recordRate, scaled, startDiscardServer, type Row } from '../common.js'
import { storeRecord, type Workload } from '../contenders.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread } from '../harness.js'

export async function lanes (reps: number): Promise<Row[]> {
  const pool = makeEvents(10_000, 500)
  const total = scaled(1_000_000)
  const record = (lanes: number) => (): Promise<number> => recordRate(pool, total, { lanes })
  const [off, on] = await compare([{ name: 'record(), lanes: 0 (no chain)', run: record(0) }, { name: 'record(), 4 lanes (chained)', run: record(4) }], { reps, warmup: 1 })
  const cost = off!.median / on!.median
  const recordNote = `${total} events of ${Math.round(meanBytes(pool))} B; cost = time per event with lanes / without`
  const rows: Row[] = [
    { scenario: '3a. chain cost, record()', contender: off!.name, unit: 'events/s', median: off!.median, spread: spread(off!), note: recordNote },
    { scenario: '3a. chain cost, record()', contender: on!.name, unit: 'events/s', median: on!.median, spread: spread(on!), ratio: { against: 'cost vs lanes: 0', value: cost, target: '<= 1.25', met: cost <= 1.25 } }
  ]

  const server = await startDiscardServer()
  try {
    const w: Workload = { url: server.url, events: pool, total: scaled(100_000), batchSize: 1000 }
    const check = (name: string, run: () => Promise<number>) => ({ name, run: delivered(server, w.total, name, run) })
    const [unordered, ordered] = await compare([
      check('unordered sink (lanes: 0, concurrency 2)', () => storeRecord(w, 'burst', { lanes: 0 })),
      check('4 lanes, 2 in flight each', () => storeRecord(w, 'burst', { lanes: 4 }))
    ], { reps, warmup: 1 })
    const ratio = ordered!.median / unordered!.median
    rows.push(
      { scenario: '3b. lanes over HTTP, burst', contender: unordered!.name, unit: 'events/s', median: unordered!.median, spread: spread(unordered!), note: `${w.total} events, batches of 1000, to the discard server` },
      { scenario: '3b. lanes over HTTP, burst', contender: ordered!.name, unit: 'events/s', median: ordered!.median, spread: spread(ordered!), ratio: { against: 'unordered', value: ratio, target: '>= 0.95', met: ratio >= 0.95 } }
    )
  } finally {
    server.stop()
  }
  return rows
}
