import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoffDelay, sleep } from '../../lib/delivery/retry-policy.js'
import { resolveRetryOptions } from '../../lib/options/retry.js'

const policy = resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 })

test('backoff grows exponentially from baseDelayMs and is capped at maxDelayMs', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)), [100, 200, 400, 800, 1000])
})

test('jitter spreads the wait within the configured fraction', () => {
  const jittered = resolveRetryOptions({ baseDelayMs: 1000, maxDelayMs: 10_000, jitter: 0.1 })
  assert.equal(backoffDelay(jittered, 1, undefined, () => 0), 900)
  assert.equal(backoffDelay(jittered, 1, undefined, () => 0.5), 1000)
  assert.equal(backoffDelay(jittered, 1, undefined, () => 0.999999), 1100)
})

test('a server\'s Retry-After wins over the computed wait and is capped at maxDelayMs', () => {
  assert.equal(backoffDelay(policy, 1, 700), 700)
  assert.equal(backoffDelay(policy, 1, 0), 0)
  assert.equal(backoffDelay(policy, 1, 60_000), 1_000)
})

test('sleep ends at once when its signal aborts', async () => {
  const controller = new AbortController()
  const started = Date.now()
  const sleeping = sleep(60_000, controller.signal)
  setTimeout(() => controller.abort(), 10)
  await sleeping
  assert.ok(Date.now() - started < 1_000)
  const again = Date.now()
  await sleep(60_000, controller.signal) // already aborted
  assert.ok(Date.now() - again < 100)
})
