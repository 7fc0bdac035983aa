/**
 * Randomized accounting with lanes: a sink that answers 503 and 400 with
 * field_errors at random, and sometimes stores a batch but loses its answer
 * (as a server behind a dropped connection; it keeps batch ids, as the real
 * one keeps idempotency keys), against stores of 1 to 8 lanes with 1 to 4
 * batches in flight per lane. Seeded; a failure prints the seed, and
 * LANE_ACCOUNTING_SEED replays it (LANE_ACCOUNTING_CASES runs more cases).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FlushError, SinkError, createAuditStore, laneOf, parseNote, type Batch, type FlushResult } from '../../lib/index.js'
import { MemoryDeadLetter, makeEvent, silentLogger } from '../helpers/fixtures.js'
import { prng } from '../helpers/prng.js'
import { ScriptedSink, type Answer, type NotesAnswer } from '../helpers/scripted-sink.js'

const seqOf = (json: string): number => (JSON.parse(json) as { event_data: { seq: number } }).event_data.seq

interface Script {
  /** Seeds each attempt's draws, so a batch's fate follows from the seed, not from timing. */
  readonly seed: number
  /** Probability that an attempt is answered 503. */
  readonly unavailable: number
  /** Probability that an attempt is stored but answered 503, as if the answer were lost. */
  readonly lostAnswer: number
  /** Event seqs (the test's own numbering) the server refuses with 400. */
  readonly bad: ReadonlySet<number>
  /** While true, every attempt and every note post fails. */
  outage: boolean
}

/**
 * A DataStorage double whose faults are scripted: keeps what it stored, by
 * lane seq, and the skip notes. It answers `sink`'s attempts and note posts.
 */
class FaultyServer {
  readonly sink: ScriptedSink
  /** Test seq of every event stored, in the order stored. */
  readonly stored: number[] = []
  /** Test seqs of the events whose batch was stored with its answer lost. */
  readonly unanswered = new Set<number>()
  /** Lane seqs of those events, by lane. */
  readonly unansweredLaneSeqs = new Map<number, Set<number>>()
  /** Lane seqs stored, by lane. */
  readonly laneSeqs = new Map<number, number[]>()
  readonly skips: Array<{ lane: number, from: number, to: number }> = []
  // Batch ids stored: a batch sent again under the same id is answered as stored, as an idempotency key is.
  readonly #ids = new Set<string>()
  // Attempts so far of each batch id.
  readonly #attempts = new Map<string, number>()
  readonly #script: Script

  constructor (script: Script, maxAttempts: number) {
    this.#script = script
    this.sink = new ScriptedSink([], {
      retry: { maxAttempts, baseDelayMs: 1, maxDelayMs: 2 },
      delayMs: 0,
      fallback: (batch) => this.#answer(batch),
      notes: (notes) => this.#takeNotes(notes)
    })
  }

  // A number in [0, 1) for this attempt of this batch: a function of the seed, the batch's
  // first event, its size and the attempt, whatever order retry timers bring attempts in.
  #draw (batch: Batch, kind: number): number {
    const attempt = this.#attempts.get(batch.id) ?? 0
    return prng((this.#script.seed * 31 + seqOf(batch.events[0]!)) * 1009 + batch.events.length * 97 + attempt * 7 + kind)()
  }

  async #answer (batch: Batch): Promise<Answer> {
    this.#attempts.set(batch.id, (this.#attempts.get(batch.id) ?? 0) + 1)
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#script.outage || this.#draw(batch, 1) < this.#script.unavailable) {
      return new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    }
    const fieldErrors: Record<string, string> = {}
    batch.events.forEach((json, i) => { if (this.#script.bad.has(seqOf(json))) fieldErrors[`[${i}].event_type`] = 'refused' })
    if (Object.keys(fieldErrors).length > 0) {
      return new SinkError('HTTP 400 Validation Error', { retryable: false, split: true, statusCode: 400, problem: { title: 'Validation Error', field_errors: fieldErrors } })
    }
    if (this.#ids.has(batch.id)) return 'ok'
    this.#ids.add(batch.id)
    batch.events.forEach((json, i) => {
      this.stored.push(seqOf(json))
      if (batch.trail !== undefined) {
        const list = this.laneSeqs.get(batch.trail.lane) ?? []
        list.push(batch.trail.seq + i)
        this.laneSeqs.set(batch.trail.lane, list)
      }
    })
    if (this.#draw(batch, 2) < this.#script.lostAnswer) {
      batch.events.forEach((json, i) => {
        this.unanswered.add(seqOf(json))
        if (batch.trail !== undefined) {
          const set = this.unansweredLaneSeqs.get(batch.trail.lane) ?? new Set<number>()
          set.add(batch.trail.seq + i)
          this.unansweredLaneSeqs.set(batch.trail.lane, set)
        }
      })
      return new SinkError('socket hang up after the batch was stored', { retryable: true })
    }
    return 'ok'
  }

  async #takeNotes (notes: readonly string[]): Promise<NotesAnswer> {
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#script.outage) return new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    for (const text of notes) {
      const { note } = parseNote(text)
      if (note.kind === 'skip') this.skips.push({ lane: note.lane, from: note.from, to: note.to })
    }
    return 'ok'
  }
}

/** Every lane's stored seqs and skipped ranges cover 1..its event count once each, with nothing twice. */
function assertLanesTiled (server: FaultyServer, eventsPerLane: ReadonlyMap<number, number>, context: string): void {
  const lanes = new Set([...server.laneSeqs.keys(), ...server.skips.map((s) => s.lane), ...eventsPerLane.keys()])
  for (const lane of lanes) {
    const covered = new Map<number, string>()
    for (const seq of server.laneSeqs.get(lane) ?? []) {
      assert.equal(covered.get(seq), undefined, `${context}: lane ${lane} seq ${seq} stored twice`)
      covered.set(seq, 'stored')
    }
    for (const { from, to } of server.skips.filter((s) => s.lane === lane)) {
      for (let seq = from; seq <= to; seq++) {
        // A batch stored whose answer was lost, then out of attempts, is dead-lettered and skipped too
        // (the skip's head is the stored chain's, so a verifier walks either); nothing else may overlap.
        const overlapAllowed = covered.get(seq) === 'stored' && server.unansweredLaneSeqs.get(lane)?.has(seq) === true
        assert.ok(covered.get(seq) === undefined || overlapAllowed, `${context}: lane ${lane} seq ${seq} both ${covered.get(seq)} and skipped`)
        covered.set(seq, 'skipped')
      }
    }
    const last = eventsPerLane.get(lane) ?? 0
    for (let seq = 1; seq <= last; seq++) assert.ok(covered.has(seq), `${context}: lane ${lane} seq ${seq} neither stored nor skipped`)
    assert.equal(covered.size, last, `${context}: lane ${lane} covers ${covered.size} seqs for its ${last} events`)
  }
}

async function runCase (seed: number): Promise<void> {
  const random = prng(seed)
  const pick = (n: number): number => Math.floor(random() * n)
  const lanes = 1 + pick(8)
  const maxInFlightPerLane = 1 + pick(4)
  const batchSize = 1 + pick(40)
  const count = 50 + pick(350)
  const bad = new Set(Array.from({ length: pick(12) }, () => pick(count)))
  const script: Script = { seed, unavailable: [0, 0.1, 0.3, 0.6][pick(4)]!, lostAnswer: [0, 0.1, 0.3][pick(3)]!, bad, outage: false }
  const server = new FaultyServer(script, 2 + pick(3))
  const deadLetter = new MemoryDeadLetter()
  const context = `seed ${seed} (lanes ${lanes}, in flight ${maxInFlightPerLane}, batchSize ${batchSize}, ${count} events, ${bad.size} refused, 503 at ${script.unavailable}, lost answers at ${script.lostAnswer})`
  const store = createAuditStore({ sink: server.sink, deadLetter, logger: silentLogger, lanes, maxInFlightPerLane, batchSize, flushIntervalMs: 60_000, bufferSize: count + 1 })
  const correlationIds = Array.from({ length: 1 + pick(10) }, (_, i) => `c-${seed}-${i}`)
  const corrOf: string[] = []
  for (let seq = 0; seq < count; seq++) {
    corrOf.push(correlationIds[pick(correlationIds.length)]!)
    store.record(makeEvent(seq, corrOf[seq]))
    if (pick(20) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  let result: FlushResult
  try {
    result = await store.flush()
  } catch (err) {
    assert.ok(err instanceof FlushError, `${context}: flush rejected with ${String(err)}`)
    result = err.result
  }
  const stats = store.stats()
  await store.close().catch(() => {})

  // Every event is stored or dead-lettered; none is stored twice or dead-lettered twice; both only
  // when its batch was stored and its answer lost until the attempts ran out. The counts say so.
  const dead = deadLetter.entries.flatMap((e) => e.events.map(seqOf))
  const stored = new Set(server.stored)
  assert.equal(stored.size, server.stored.length, `${context}: an event stored twice`)
  assert.equal(new Set(dead).size, dead.length, `${context}: an event dead-lettered twice`)
  for (const seq of dead) assert.ok(!stored.has(seq) || server.unanswered.has(seq), `${context}: event ${seq} both stored and dead-lettered`)
  for (let seq = 0; seq < count; seq++) assert.ok(stored.has(seq) || dead.includes(seq), `${context}: event ${seq} neither stored nor dead-lettered`)
  for (const seq of bad) assert.ok(dead.includes(seq) && !stored.has(seq), `${context}: refused event ${seq} not dead-lettered`)
  assert.deepEqual({ written: result.written, deadLettered: result.deadLettered, dropped: result.dropped, lost: result.lost },
    { written: count - dead.length, deadLettered: dead.length, dropped: 0, lost: 0 }, context)
  assert.equal(stats.accepted, count, context)
  assert.equal(stats.written + stats.deadLettered + stats.dropped + stats.lost + stats.pending, stats.accepted, `${context}: stats do not balance`)
  assert.equal(stats.pending, 0, context)

  // With one batch in flight per lane, a correlation id's stored events keep their order.
  if (maxInFlightPerLane === 1) {
    for (const id of correlationIds) {
      const order = server.stored.filter((seq) => corrOf[seq] === id)
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `${context}: ${id} stored out of order`)
    }
  }
  const eventsPerLane = new Map<number, number>()
  for (const id of corrOf) eventsPerLane.set(laneOf(id, lanes), (eventsPerLane.get(laneOf(id, lanes)) ?? 0) + 1)
  assertLanesTiled(server, eventsPerLane, context)
}

test('with lanes, random 503s and refusals: every event is stored or dead-lettered exactly once, the stats balance, and each lane is tiled by stored seqs and skips', async () => {
  const replay = process.env.LANE_ACCOUNTING_SEED
  const cases = Number(process.env.LANE_ACCOUNTING_CASES ?? 40)
  const first = replay === undefined ? Date.now() % 2 ** 30 : Number(replay)
  for (let k = 0; k < (replay === undefined ? cases : 1); k++) await runCase(first + k)
})

test('an outage that exhausts several batches of one lane, then recovery: the lane resumes, its skips are posted after the outage, and nothing is stored twice', async () => {
  const script: Script = { seed: 7, unavailable: 0, lostAnswer: 0, bad: new Set(), outage: true }
  const server = new FaultyServer(script, 2)
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink: server.sink, deadLetter, logger: silentLogger, lanes: 1, maxInFlightPerLane: 2, batchSize: 5, flushIntervalMs: 60_000 })
  for (let seq = 0; seq < 20; seq++) store.record(makeEvent(seq))
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.deadLettered === 20)
  assert.equal(server.skips.length, 0, 'no skip could be posted during the outage')
  script.outage = false
  for (let seq = 20; seq < 30; seq++) store.record(makeEvent(seq))
  assert.deepEqual(await store.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
  assert.deepEqual(server.stored, [20, 21, 22, 23, 24, 25, 26, 27, 28, 29])
  assert.deepEqual(server.laneSeqs.get(0), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30])
  // The four exhausted batches' skips reached the server once it answered, before the lane's next batch.
  assert.deepEqual(server.skips.map((s) => [s.from, s.to]).sort((a, b) => a[0]! - b[0]!), [[1, 5], [6, 10], [11, 15], [16, 20]])
  assertLanesTiled(server, new Map([[0, 30]]), 'outage')
})
