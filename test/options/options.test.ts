import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, InvalidOptionError, MemorySink } from '../../lib/index.js'
import { resolveRetryOptions } from '../../lib/options/retry.js'
import { resolveSinkOptions } from '../../lib/options/sink.js'
import { resolveStoreOptions } from '../../lib/store/store-options.js'

test('store options get the documented defaults', () => {
  const sink = new MemorySink()
  const o = resolveStoreOptions({ sink })
  assert.equal(o.bufferSize, 10_000)
  assert.equal(o.batchSize, 1_000)
  assert.equal(o.maxBatchBytes, 4 * 1024 * 1024)
  assert.equal(o.maxEventBytes, 1024 * 1024)
  assert.equal(o.flushIntervalMs, 1_000)
  assert.equal(o.closeTimeoutMs, 30_000)
  assert.equal(o.deadLetter, undefined)
  assert.equal(o.sink, sink)
})

test('retry options get the documented defaults', () => {
  assert.deepEqual(resolveRetryOptions(undefined), { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, multiplier: 2, jitter: 0.1 })
  assert.deepEqual(resolveRetryOptions(undefined), { ...DEFAULTS.retry })
})

test('DEFAULTS is frozen', () => {
  assert.ok(Object.isFrozen(DEFAULTS))
  assert.ok(Object.isFrozen(DEFAULTS.retry))
})

test('resolving does not mutate the caller\'s options', () => {
  const input = { sink: new MemorySink(), batchSize: 5 }
  const copy = { ...input }
  resolveStoreOptions(input)
  assert.deepEqual(input, copy)
})

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['batchSize below 1', { batchSize: 0 }, /Expected `batchSize` to be an integer >= 1, got `0` \(number\)/],
  ['a fractional batchSize', { batchSize: 1.5 }, /`batchSize`/],
  ['a string bufferSize', { bufferSize: '10' }, /Expected `bufferSize` to be an integer >= 1, got `"10"` \(string\)/],
  ['a negative flushIntervalMs', { flushIntervalMs: -1 }, /`flushIntervalMs`/],
  ['a NaN closeTimeoutMs', { closeTimeoutMs: NaN }, /`closeTimeoutMs`/],
  ['maxEventBytes larger than maxBatchBytes', { maxEventBytes: 2000, maxBatchBytes: 1000 }, /`maxEventBytes` to be an integer <= maxBatchBytes - 2/],
  ['a deadLetter without write', { deadLetter: {} }, /`deadLetter`/],
  ['a logger that is not pino', { logger: console.log }, /`logger`/],
  ['a spool segment over 1 GiB, which recovery could not read back', { spool: { dir: '/tmp/x', segmentBytes: 3 * 2 ** 30 } }, /Expected `spool.segmentBytes` to be an integer from 1 to 1073741824/]
]

for (const [what, patch, message] of bad) {
  test(`rejects ${what}`, () => {
    assert.throws(() => resolveStoreOptions({ sink: new MemorySink(), ...patch }), (err: unknown) => {
      assert.ok(err instanceof InvalidOptionError)
      assert.equal(err.code, 'AUDIT_ERR_INVALID_OPTION')
      assert.match(err.message, message)
      return true
    })
  })
}

test('rejects a missing sink and non-object options', () => {
  assert.throws(() => resolveStoreOptions({}), /Expected `sink` to be a BatchSink/)
  assert.throws(() => resolveStoreOptions(null), InvalidOptionError)
})

test('rejects bad retry options, naming the nested field', () => {
  assert.throws(() => resolveRetryOptions({ maxAttempts: 0 }), /`retry.maxAttempts`/)
  assert.throws(() => resolveRetryOptions({ jitter: 2 }), /`retry.jitter` to be a number from 0 to 1/)
  assert.throws(() => resolveRetryOptions({ multiplier: 0.5 }), /`retry.multiplier`/)
  assert.throws(() => resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 10 }), /`retry.maxDelayMs` to be an integer >= retry.baseDelayMs/)
})

test('sink options ignore unknown keys so subclasses can extend them', () => {
  const o = resolveSinkOptions({ url: 'http://x', concurrency: 2 })
  assert.equal(o.concurrency, 2)
  assert.throws(() => resolveSinkOptions({ concurrency: 0 }), /`concurrency`/)
})
