/**
 * The top-level array splitter: exact byte ranges of each element, whatever
 * the whitespace, escapes, nesting and non-ASCII text, checked against
 * JSON.parse on generated arrays; and refusals of what is not one array.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ArrayShapeError, arrayElements } from '../../lib/server/array-elements.js'

function slices (text: string): string[] {
  const body = Buffer.from(text, 'utf8')
  const offsets = arrayElements(body)
  const out: string[] = []
  for (let i = 0; i < offsets.length; i += 2) out.push(body.toString('utf8', offsets[i], offsets[i + 1]))
  return out
}

test('splits an array into the exact text of each element, whitespace around them left out', () => {
  assert.deepEqual(slices(' [ {"a":"x,]}"} ,\n\t[1,[2]] , "s\\"]" ,3,null,true ] \n'), ['{"a":"x,]}"}', '[1,[2]]', '"s\\"]"', '3', 'null', 'true'])
  assert.deepEqual(slices('[]'), [])
  assert.deepEqual(slices('[ ]'), [])
  assert.deepEqual(slices('["\\\\"]'), ['"\\\\"'], 'an escaped backslash before the closing quote')
  assert.deepEqual(slices('["caf\\u00e9", "café 漢 🎉"]'), ['"caf\\u00e9"', '"café 漢 🎉"'])
})

test('element slices re-parse to the elements JSON.parse sees, for generated arrays with random whitespace', () => {
  const space = fc.constantFrom('', ' ', '\n', '\t', '\r\n', '  ')
  fc.assert(fc.property(fc.array(fc.tuple(fc.jsonValue(), space, space), { maxLength: 12 }), (items) => {
    const text = '[' + items.map(([v, a, b]) => a + JSON.stringify(v) + b).join(',') + ']'
    const parsed = JSON.parse(text) as unknown[]
    const got = slices(text)
    assert.equal(got.length, parsed.length)
    for (const [i, s] of got.entries()) {
      assert.deepEqual(JSON.parse(s), parsed[i])
      assert.equal(s, JSON.stringify(items[i]![0]))
    }
  }), { numRuns: 500 })
})

test('refuses what is not one array', () => {
  for (const text of ['', '{}', '[', '[1,]', '[,1]', '[1', '["a]', '[1]]', '[1] x', '[[1]', '[1]}', '"x"']) {
    assert.throws(() => arrayElements(Buffer.from(text)), ArrayShapeError, text)
  }
})
