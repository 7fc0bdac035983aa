/**
 * Flushes interleaved with everything that can put events between the
 * ledger and the sink: runs still waiting to be spooled, timer cuts waiting
 * on the batcher's gate for their cut record, write() next to record(),
 * record() inside a resolved flush, and a restart whose recovered events are
 * replayed while new ones arrive and a flush is already waiting. Every flush
 * must resolve with nothing lost, and every event must reach a sink.
 *
 * SPOOL_STRESS_ROUNDS sets the rounds per variant (default 6); SPOOL_STRESS_SEED the seed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { AuditStore, MemorySink, type AuditStoreOptions, type StoreStats } from '../../lib/index.js'
import { assertExactlyOnce } from '../helpers/exactly-once.js'
import { makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { prng } from '../helpers/prng.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

const ROUNDS = Number(process.env.SPOOL_STRESS_ROUNDS ?? 6)
const SEED = Number(process.env.SPOOL_STRESS_SEED ?? Date.now() % 1_000_000)

function options (sink: MemorySink, dir: string | undefined, durability: 'process' | 'os'): AuditStoreOptions {
  return {
    sink, logger: silentLogger, batchSize: 50, flushIntervalMs: 1, bufferSize: 100_000,
    ...(dir === undefined ? {} : { spool: { dir, durability, segmentBytes: 20_000, checkpointIntervalMs: 2 } })
  }
}

async function closed (store: AuditStore): Promise<StoreStats> {
  return store.close().catch((err: { stats: StoreStats }) => err.stats)
}

for (const variant of ['no spool', 'process', 'os'] as const) {
  test(`flushes interleaved with bursts, timer cuts and write() lose nothing (${variant})`, { timeout: 60_000 }, async (t) => {
    const random = prng(SEED)
    for (let round = 0; round < ROUNDS; round++) {
      const dir = variant === 'no spool' ? undefined : tempDir(t, 'spool-stress-')
      const sink = new MemorySink()
      const store = new AuditStore(options(sink, dir, variant === 'os' ? 'os' : 'process'))
      let n = 0
      const flushes: Array<Promise<unknown>> = []
      for (let burst = 0; burst < 30; burst++) {
        const size = Math.floor(random() * 300)
        for (let i = 0; i < size; i++) {
          if (random() < 0.1) store.write(makeEvent(n++))
          else store.record(makeEvent(n++))
        }
        const r = random()
        if (r < 0.3) flushes.push(store.flush().then((result) => { store.record(makeEvent(n++)); return result }))
        else if (r < 0.5) await sleep(Math.floor(random() * 4))
        else if (r < 0.7) await new Promise((resolve) => setImmediate(resolve))
        if (dir !== undefined && random() < 0.1) await store.persisted()
      }
      flushes.push(store.flush())
      for (const result of await Promise.allSettled(flushes)) {
        assert.equal(result.status, 'fulfilled', `seed ${SEED}, round ${round}: ${result.status === 'rejected' ? String(result.reason) : ''}`)
      }
      const stats = await closed(store)
      assert.equal(stats.lost, 0, `seed ${SEED}, round ${round}: ${JSON.stringify(stats)}`)
      assert.equal(stats.written, n, `seed ${SEED}, round ${round}: ${JSON.stringify(stats)}`)
      assertExactlyOnce(seqs(sink.events), 0, n, `seed ${SEED}, round ${round}: the sink`)
    }
  })
}

for (const durability of ['process', 'os'] as const) {
  test(`a store destroyed mid-delivery leaves every event for the next one, which flushes while replaying (${durability})`, { timeout: 60_000 }, async (t) => {
    const random = prng(SEED + 1)
    for (let round = 0; round < ROUNDS * 2; round++) {
      const dir = tempDir(t, 'spool-stress-')
      const first = new MemorySink({ delayMs: 2 })
      const a = new AuditStore(options(first, dir, durability))
      let n = 0
      const total = 500 + Math.floor(random() * 3000)
      while (n < total) {
        for (let i = 0; i < 100; i++) a.record(makeEvent(n++))
        if (random() < 0.3) await sleep(1)
      }
      const firstCount = n
      await a.persisted()
      await sleep(Math.floor(random() * 10))
      a.destroy()
      // The destroyed store lets go of its lock once its writer has stopped.
      await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the destroyed store to release the spool lock' })
      const second = new MemorySink({ delayMs: Math.floor(random() * 2) })
      const b = new AuditStore(options(second, dir, durability))
      const recovered = b.stats().recovered
      const flushes: Array<Promise<unknown>> = []
      if (random() < 0.5) flushes.push(b.flush())
      const extra = Math.floor(random() * 500)
      for (let i = 0; i < extra; i++) {
        if (random() < 0.1) b.write(makeEvent(n++))
        else b.record(makeEvent(n++))
        if (i % 97 === 0 && random() < 0.5) flushes.push(b.flush())
      }
      flushes.push(b.flush())
      for (const result of await Promise.allSettled(flushes)) {
        assert.equal(result.status, 'fulfilled', `seed ${SEED}, round ${round}: ${result.status === 'rejected' ? String(result.reason) : ''}`)
      }
      const stats = await closed(b)
      assert.equal(stats.lost, 0, `seed ${SEED}, round ${round}: ${JSON.stringify(stats)}`)
      assert.equal(stats.written, recovered + extra, `seed ${SEED}, round ${round}: ${JSON.stringify(stats)}`)
      const seen = new Set(seqs([...first.events, ...second.events]))
      const missing: number[] = []
      for (let i = 0; i < n; i++) if (!seen.has(i)) missing.push(i)
      assert.deepEqual(missing.slice(0, 10), [], `seed ${SEED}, round ${round}: ${missing.length} of ${n} events never reached a sink`)
      // The next store delivers what it recovered and what it was given, each once; only the
      // first store's deliveries may come again (its checkpoint may lag them).
      const next = seqs(second.events)
      assert.equal(next.length, recovered + extra, `seed ${SEED}, round ${round}: the second sink holds ${next.length} events, the store says ${recovered} recovered + ${extra} new`)
      assertExactlyOnce(next.filter((seq) => seq >= firstCount), firstCount, n, `seed ${SEED}, round ${round}: the second sink, events given to the second store`)
      assert.equal(new Set(next).size, next.length, `seed ${SEED}, round ${round}: the second sink holds a replayed event twice`)
    }
  })
}
