/**
 * The discard server's event count: the objects at the top level of a JSON
 * array body, fed in pieces that may end anywhere.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventCounter } from './event-counter.js'
import { makeEvents } from './events.js'

function count (body: string, pieceBytes?: number): number | undefined {
  const bytes = Buffer.from(body)
  const counter = new EventCounter()
  const step = pieceBytes ?? bytes.length
  for (let i = 0; i < bytes.length; i += step) counter.feed(bytes.subarray(i, i + step))
  return counter.end()
}

// Strings that would miscount a scan that ignored strings or escapes.
const tricky = [
  { a: '{', b: '}}', c: '[{' },
  { quote: 'say "{"', backslash: 'C:\\', both: '\\"{\\' },
  { nested: { list: [{ x: 1 }, { y: [{}, []] }] }, unicode: 'é ü 日本 😀 {' },
  { escapes: '\n\t\r\b\f\u0001', slash: '/', empty: '' },
  {}
]

test('counts the top-level objects of an array of audit events', () => {
  const events = makeEvents(50, 500)
  assert.equal(count(JSON.stringify(events)), 50)
})

test('ignores braces and brackets inside strings, escaped quotes and backslashes included', () => {
  assert.equal(count(JSON.stringify(tricky)), tricky.length)
})

test('counts the same whatever the bodies are cut into, down to one byte per piece', () => {
  const body = JSON.stringify([...tricky, ...makeEvents(3, 400)])
  for (const piece of [1, 2, 3, 5, 7, 64]) assert.equal(count(body, piece), tricky.length + 3, `pieces of ${piece} bytes`)
})

test('counts only objects, not nested ones or other values, and takes whitespace around the array', () => {
  assert.equal(count(' [ {"a":{"b":{}}} , 1, "x", [ {} ], null, {} ]\n'), 2)
  assert.equal(count('[]'), 0)
})

test('refuses a body that is not one complete JSON array', () => {
  for (const body of ['', '{"a":1}', '[{"a":1}', '[{"a":"}]', '[{}]]', '[{}][{}]', '[{}] x', 'x[{}]']) {
    assert.equal(count(body), undefined, body)
  }
})
