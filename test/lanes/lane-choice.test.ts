import { test } from 'node:test'
import assert from 'node:assert/strict'
import { laneOf } from '../../lib/lanes/lane-choice.js'
import { InvalidOptionError } from '../../lib/errors.js'

test('laneOf is CRC-32 of the UTF-8 bytes modulo lanes (checked against gzip\'s CRC of "rr-1")', () => {
  // printf 'rr-1' | gzip -c | tail -c8 | head -c4 | xxd -p  →  e051f3c6 (little-endian) = 0xc6f351e0
  assert.equal(0xc6f351e0, 3337834976)
  assert.equal(laneOf('rr-1', 2 ** 32 - 1 + 1), 3337834976)
  assert.equal(laneOf('rr-1', 4), 3337834976 % 4)
  assert.equal(laneOf('rr-1', 1), 0)
})

test('laneOf encodes non-ASCII correlation ids as UTF-8', () => {
  // CRC-32 of the two bytes c3 a9 ("é" in UTF-8)
  assert.equal(laneOf('é', 2 ** 32), 235179326)
})

test('laneOf gives every event of a correlation id the same lane, in range', () => {
  for (let i = 0; i < 200; i++) {
    const lane = laneOf(`corr-${i}`, 7)
    assert.ok(lane >= 0 && lane < 7)
    assert.equal(laneOf(`corr-${i}`, 7), lane)
  }
})

test('laneOf refuses a lane count below 1 or not an integer', () => {
  for (const lanes of [0, -1, 1.5, Number.NaN]) assert.throws(() => laneOf('x', lanes), InvalidOptionError)
})
