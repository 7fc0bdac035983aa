/**
 * Model-based property test of the flush contract: random sequences of
 * record, write, flush, failing sends, time passing and close, checked
 * against a model of which events each flush covers. After every step the
 * store's ledger must balance: accepted = written + deadLettered + lost + pending.
 *
 * FLUSH_MODEL_RUNS sets the number of cases (default 1000, the CI floor).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createAuditStore, type AuditStore } from '../../lib/index.js'
import { MemoryDeadLetter, makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink, type Answer } from '../helpers/scripted-sink.js'

interface Model {
  nextSeq: number
  accepted: number[]
  closed: boolean
  // Per flush call: how many events were accepted at the call, and whether it has settled.
  flushes: Array<{ upTo: number, settled: boolean }>
}

interface Real {
  store: AuditStore
  sink: ScriptedSink
  deadLetter: MemoryDeadLetter
  settled: Array<Promise<void>>
  violations: string[]
}

const seqOf = (json: string): number => (JSON.parse(json) as { event_data: { seq: number } }).event_data.seq

function counts (real: Real): { stored: number[], deadLettered: number[] } {
  return {
    stored: real.sink.stored.map(seqOf),
    deadLettered: real.deadLetter.entries.filter((e) => e.reason !== 'invalid').flatMap((e) => e.events.map(seqOf))
  }
}

function occurrences (list: number[], seq: number): number {
  let n = 0
  for (const s of list) if (s === seq) n++
  return n
}

class RecordCommand implements fc.AsyncCommand<Model, Real> {
  constructor (readonly n: number) {}
  check = (): boolean => true
  async run (m: Model, r: Real): Promise<void> {
    for (let i = 0; i < this.n; i++) {
      const seq = m.nextSeq++
      const ok = r.store.record(makeEvent(seq))
      assert.equal(ok, !m.closed, 'record accepts while open and refuses once closing')
      if (ok) m.accepted.push(seq)
    }
  }

  toString = (): string => `record(${this.n})`
}

class WriteCommand implements fc.AsyncCommand<Model, Real> {
  constructor (readonly n: number, readonly invalid: boolean) {}
  check = (m: Readonly<Model>): boolean => !m.closed
  async run (m: Model, r: Real): Promise<void> {
    for (let i = 0; i < this.n; i++) {
      const seq = m.nextSeq++
      r.store.write(makeEvent(seq))
      m.accepted.push(seq)
    }
    if (this.invalid) r.store.write({ not: 'an event' })
  }

  toString = (): string => `write(${this.n}${this.invalid ? ', +invalid' : ''})`
}

class FlushCommand implements fc.AsyncCommand<Model, Real> {
  constructor (readonly wait: boolean) {}
  check = (): boolean => true
  async run (m: Model, r: Real): Promise<void> {
    // A flush covers what no flush already settled at this call covered.
    let from = 0
    for (const f of m.flushes) if (f.settled) from = f.upTo
    const covered = m.accepted.slice(from)
    const call = { upTo: m.accepted.length, settled: false }
    m.flushes.push(call)
    const settled = r.store.flush().finally(() => { call.settled = true }).then(
      () => {
        const { stored } = counts(r)
        for (const seq of covered) {
          if (occurrences(stored, seq) !== 1) r.violations.push(`resolved flush: event ${seq} stored ${occurrences(stored, seq)} times`)
        }
        const order = stored.filter((s) => covered.includes(s))
        for (let i = 1; i < order.length; i++) {
          if (order[i]! <= order[i - 1]!) r.violations.push(`resolved flush: events out of order at ${order[i]}`)
        }
      },
      () => {
        const { stored, deadLettered } = counts(r)
        for (const seq of covered) {
          const n = occurrences(stored, seq) + occurrences(deadLettered, seq)
          if (n !== 1) r.violations.push(`rejected flush: event ${seq} in sink or dead letter ${n} times`)
        }
      }
    )
    r.settled.push(settled)
    if (this.wait) await settled
  }

  toString = (): string => `flush(${this.wait ? 'await' : 'no-wait'})`
}

class FailSendsCommand implements fc.AsyncCommand<Model, Real> {
  constructor (readonly answers: Answer[]) {}
  check = (): boolean => true
  async run (_m: Model, r: Real): Promise<void> {
    r.sink.script.push(...this.answers)
  }

  toString = (): string => `failSends(${this.answers.join(',')})`
}

class AdvanceCommand implements fc.AsyncCommand<Model, Real> {
  constructor (readonly ms: number) {}
  check = (): boolean => true
  async run (): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.ms))
  }

  toString = (): string => `advance(${this.ms}ms)`
}

class CloseCommand implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>): boolean => !m.closed
  async run (m: Model, r: Real): Promise<void> {
    m.closed = true
    await r.store.close().catch(() => {})
  }

  toString = (): string => 'close()'
}

/** Runs a command, then checks the ledger invariant on the store's stats. */
class Checked implements fc.AsyncCommand<Model, Real> {
  constructor (readonly inner: fc.AsyncCommand<Model, Real>) {}
  check = (m: Readonly<Model>): boolean => this.inner.check(m)
  async run (m: Model, r: Real): Promise<void> {
    await this.inner.run(m, r)
    assertBalanced(r, this.inner.toString())
  }

  toString = (): string => this.inner.toString()
}

function assertBalanced (r: Real, step: string): void {
  const s = r.store.stats()
  assert.equal(s.accepted, s.written + s.deadLettered + s.lost + s.pending, `after ${step}: ${JSON.stringify(s)}`)
  assert.ok(s.pending >= 0, `after ${step}: pending ${s.pending}`)
  assert.ok(s.written <= r.sink.stored.length, `after ${step}: ${s.written} written, ${r.sink.stored.length} in the sink`)
}

const RUNS = Math.max(1, Number(process.env.FLUSH_MODEL_RUNS ?? 1000))

const commands = [
  fc.integer({ min: 1, max: 30 }).map((n) => new RecordCommand(n)),
  fc.tuple(fc.integer({ min: 1, max: 10 }), fc.boolean()).map(([n, invalid]) => new WriteCommand(n, invalid)),
  fc.boolean().map((wait) => new FlushCommand(wait)),
  fc.array(fc.constantFrom<Answer>('ok', 'retryable', 'rejected'), { minLength: 1, maxLength: 4 }).map((o) => new FailSendsCommand(o)),
  fc.integer({ min: 0, max: 12 }).map((ms) => new AdvanceCommand(ms)),
  fc.constant(new CloseCommand())
].map((arbitrary) => arbitrary.map((command) => new Checked(command)))

test('every event accepted before a flush is stored exactly once and in order when it resolves, and in the sink or dead letter when it rejects', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.commands(commands, { maxCommands: 25 }),
      fc.integer({ min: 1, max: 12 }),
      async (cmds, batchSize) => {
        const sink = new ScriptedSink([], { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 3 } })
        const deadLetter = new MemoryDeadLetter()
        // One batch of a lane in flight: this sink, like a server that ignores the lane headers, does not
        // refuse a batch that overtakes a retried one, so only then is the order of a lane kept.
        const store = createAuditStore({ sink, deadLetter, logger: silentLogger, batchSize, flushIntervalMs: 5, maxInFlightPerLane: 1 })
        const real: Real = { store, sink, deadLetter, settled: [], violations: [] }
        const model: Model = { nextSeq: 0, accepted: [], closed: false, flushes: [] }
        await fc.asyncModelRun(() => ({ model, real }), cmds)
        await store.close().catch(() => {})
        await Promise.all(real.settled)
        assertBalanced(real, 'the final close')
        assert.deepEqual(real.violations, [])
        // At the end nothing is lost: every accepted event is stored or dead-lettered, once.
        const { stored, deadLettered } = counts(real)
        for (const seq of model.accepted) assert.equal(occurrences(stored, seq) + occurrences(deadLettered, seq), 1, `event ${seq}`)
        assert.equal(store.stats().lost, 0)
        assert.equal(store.stats().pending, 0)
      }
    ),
    { numRuns: RUNS }
  )
})
