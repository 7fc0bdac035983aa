import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_FIELD_ERRORS, checkBatch, checkEvent } from '../../lib/server/field-errors.js'
import type { HttpProblem } from '../../lib/server/problem.js'

const twoIssues = (): Array<{ path: string, message: string }> => [{ path: 'a', message: 'bad a' }, { path: 'b', message: 'bad b' }]

function problemOf (fn: () => void): HttpProblem {
  try { fn() } catch (err) { return err as HttpProblem }
  assert.fail('expected a problem')
}

test('stops validating after MAX_FIELD_ERRORS messages and says where it stopped', () => {
  let calls = 0
  const p = problemOf(() => checkBatch(Array.from({ length: 10_000 }, () => ({})), () => { calls++; return twoIssues() }))
  assert.equal(p.status, 400)
  assert.equal(Object.keys(p.extra.field_errors as object).length, MAX_FIELD_ERRORS)
  assert.equal(p.extra.field_errors_truncated, true)
  assert.equal(p.extra.checked_items, MAX_FIELD_ERRORS / 2)
  assert.ok(calls <= MAX_FIELD_ERRORS / 2 + 1, `${calls} items validated`)
})

test('keys keep the [i].path shape, with [i] alone for the whole item', () => {
  const p = problemOf(() => checkBatch([{}, {}, {}], (v) => v === undefined ? [] : [{ path: '', message: 'not an object' }]))
  assert.deepEqual(p.extra.field_errors, { '[0]': 'not an object', '[1]': 'not an object', '[2]': 'not an object' })
  assert.equal(p.extra.field_errors_truncated, undefined)
})

test('a validator that overflows the stack gives a field error, not a crash', () => {
  const overflow = (): never => { throw new RangeError('Maximum call stack size exceeded') }
  assert.deepEqual(problemOf(() => checkBatch([{}], overflow)).extra.field_errors, { '[0].event_data': 'nested too deeply to check' })
  assert.deepEqual(problemOf(() => checkEvent({}, overflow)).extra.field_errors, { event_data: 'nested too deeply to check' })
  assert.throws(() => checkEvent({}, () => { throw new TypeError('a bug') }), TypeError)
})

test('a valid batch passes', () => {
  checkBatch([{}, {}], () => [])
})
