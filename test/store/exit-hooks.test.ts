import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { unwatchProcessExit, watchProcessExit } from '../../lib/store/exit-hooks.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const noop = (): void => {}

test('the process listeners exist exactly while an object is watched', () => {
  const before = process.listenerCount('exit')
  const a = {}
  const b = {}
  watchProcessExit(a, { exit: noop })
  watchProcessExit(b, { exit: noop, beforeExit: noop })
  assert.equal(process.listenerCount('exit'), before + 1)
  unwatchProcessExit(a)
  assert.equal(process.listenerCount('exit'), before + 1)
  unwatchProcessExit(b)
  unwatchProcessExit(b)
  assert.equal(process.listenerCount('exit'), before)
})

test('a watched object that is collected is forgotten: the hook does not keep it alive', async () => {
  const before = process.listenerCount('exit')
  let collected = false
  const probe = new FinalizationRegistry(() => { collected = true })
  ;(() => {
    const store = {}
    probe.register(store, undefined)
    watchProcessExit(store, { exit: noop })
  })()
  for (let i = 0; i < 50 && (!collected || process.listenerCount('exit') !== before); i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.equal(collected, true, 'the watched object was never collected')
  assert.equal(process.listenerCount('exit'), before)
})
