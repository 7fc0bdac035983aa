import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Ledger, type Outcome } from '../../lib/accounting/ledger.js'
import { captureLogger, silentLogger } from '../helpers/fixtures.js'

test('accepted events get contiguous sequence numbers from 0', () => {
  const ledger = new Ledger(silentLogger)
  assert.equal(ledger.accept(3), 0)
  assert.equal(ledger.accept(), 3)
  assert.equal(ledger.accept(2), 4)
  assert.equal(ledger.accepted, 6)
  assert.equal(ledger.pending, 6)
})

test('a second settlement of an event is refused and logged at error level', () => {
  const { logger, lines } = captureLogger('error')
  const ledger = new Ledger(logger)
  ledger.accept(4)
  assert.equal(ledger.settle([0, 1], 'written'), 2)
  assert.equal(ledger.settle([1, 2], 'lost', { batchId: 'b' }), 1)
  assert.deepEqual(ledger.settled(), { written: 2, deadLettered: 0, lost: 1 })
  const refusal = JSON.parse(lines[0]!) as { level: number, msg: string, count: number, batchId: string }
  assert.equal(refusal.level, 50)
  assert.equal(refusal.msg, 'settlement refused: events already settled')
  assert.equal(refusal.count, 1)
  assert.equal(refusal.batchId, 'b')
})

test('an event never accepted cannot be settled', () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(2)
  assert.equal(ledger.settle([1, 5], 'written'), 1)
  assert.equal(ledger.pending, 1)
})

test('settleUnsettled counts only the gaps lost, out of order settlements included', () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(10)
  ledger.settle([5, 6], 'deadLettered')
  ledger.settle([0, 1], 'written')
  assert.equal(ledger.settleUnsettled(7, 'test'), 4)
  assert.deepEqual(ledger.settled(), { written: 2, deadLettered: 2, lost: 4 })
  assert.equal(ledger.pending, 2)
})

test('counts between watched positions follow out-of-order settlements', () => {
  const ledger = new Ledger(silentLogger)
  ledger.accept(4)
  ledger.watch(4)
  ledger.accept(4)
  ledger.watch(8)
  ledger.settle([6, 7], 'lost')
  ledger.settle([2, 5], 'written')
  ledger.settle([0, 1], 'deadLettered')
  assert.deepEqual(ledger.between(0, 4), { written: 2, deadLettered: 2, lost: 0 })
  assert.deepEqual(ledger.between(4, 8), { written: 2, deadLettered: 0, lost: 2 })
})

test('accepted = written + deadLettered + lost + pending after any settlements, duplicates included', () => {
  const outcome = fc.constantFrom<Outcome>('written', 'deadLettered', 'lost')
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 60 }),
    fc.array(fc.tuple(fc.nat(70), fc.nat(10), outcome), { maxLength: 30 }),
    (accepted, settlements) => {
      const ledger = new Ledger(silentLogger)
      ledger.accept(accepted)
      const seen = new Set<number>()
      for (const [first, length, how] of settlements) {
        let fresh = 0
        for (let seq = first; seq <= first + length; seq++) if (seq < accepted && !seen.has(seq)) { seen.add(seq); fresh++ }
        assert.equal(ledger.settle([first, first + length], how), fresh)
        const s = ledger.settled()
        assert.equal(ledger.accepted, s.written + s.deadLettered + s.lost + ledger.pending)
        assert.equal(ledger.pending, accepted - seen.size)
      }
    }
  ), { numRuns: 300 })
})
