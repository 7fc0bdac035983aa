import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, InvalidOptionError } from '../../lib/index.js'
import { resolveServerOptions } from '../../lib/server/server-options.js'

test('server options get the documented defaults', () => {
  const o = resolveServerOptions({})
  assert.equal(o.maxBatchItems, 10_000)
  assert.equal(o.drainDelayMs, 0)
  assert.equal(o.bodyLimitBytes, 8 * 1024 * 1024)
  assert.equal(DEFAULTS.server.maxBatchItems, 10_000)
})

for (const [name, input, message] of [
  ['maxBatchItems below 1', { maxBatchItems: 0 }, /Expected `maxBatchItems` to be an integer from 1 to 1000000, got `0` \(number\)/],
  ['a fractional maxBatchItems', { maxBatchItems: 2.5 }, /`maxBatchItems`/],
  ['a string maxBatchItems', { maxBatchItems: '100' }, /`maxBatchItems`/],
  ['a negative drainDelayMs', { drainDelayMs: -1 }, /`drainDelayMs`/],
  ['a drainDelayMs over ten minutes', { drainDelayMs: 600_001 }, /`drainDelayMs`/]
] as Array<[string, Record<string, unknown>, RegExp]>) {
  test(`rejects ${name}`, () => {
    assert.throws(() => resolveServerOptions(input), (err: unknown) => err instanceof InvalidOptionError && message.test(err.message))
  })
}
