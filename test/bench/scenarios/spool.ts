/**
 * 8. The spool: 'process' end-to-end throughput against the same store
 * without a spool; 'os' with 64 concurrent producers each looping record x10
 * then await persisted() (fsyncs/s, p50/p99 persisted() latency); recovery
 * time of a spool of 1 000 000 events (BENCH_SCALE scales it).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuditStore, createAuditStore, type AuditStoreOptions } from '../../../lib/index.js'
import { kSpoolFiles, nodeSpoolFiles, type SpoolFiles } from '../../../lib/spool/spool-files.js'
import { NullSink, scaled, silent, type Row } from '../common.js'
import { makeEvents } from '../events.js'
import { compare, spread, yieldToLoop } from '../harness.js'

const pool = makeEvents(10_000, 500)

function withDir<T> (run: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-spool-'))
  return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }))
}

// The real file layer, counting fdatasyncs.
function countingFiles (counter: { syncs: number }): SpoolFiles {
  return {
    ...nodeSpoolFiles,
    async create (path) {
      const file = await nodeSpoolFiles.create(path)
      return { ...file, writev: (b) => file.writev(b), close: () => file.close(), sync: () => file.sync(), datasync: () => { counter.syncs++; return file.datasync() } }
    }
  }
}

async function endToEnd (spool: boolean, total: number): Promise<number> {
  return withDir(async (dir) => {
    const store = createAuditStore({ sink: new NullSink(), logger: silent, ...(spool ? { spool: { dir } } : {}) })
    const started = performance.now()
    for (let i = 0; i < total; i++) {
      if (!store.record(pool[i % pool.length]!)) { i--; await yieldToLoop(); continue }
      if (i % 1000 === 999) await yieldToLoop()
    }
    // A refused record() is retried after a yield (counted dropped, so the flush reports it): every event gets in once.
    await store.flush().catch(() => {})
    const rate = total / ((performance.now() - started) / 1000)
    const stats = await store.close().catch((err: { stats?: { written: number } }) => err.stats)
    if (stats?.written !== total) throw new Error(`spool bench (spool ${spool}) lost events: ${JSON.stringify(stats)}`)
    return rate
  })
}

export async function spoolScenarios (reps: number): Promise<Row[]> {
  const total = scaled(300_000)
  const [plain, spooled] = await compare([
    { name: 'no spool', run: () => endToEnd(false, total) },
    { name: "spool 'process'", run: () => endToEnd(true, total) }
  ], { reps, warmup: 1 })
  const ratio = spooled!.median / plain!.median
  const rows: Row[] = [
    { scenario: '8. spool end-to-end', contender: plain!.name, unit: 'events/s', median: plain!.median, spread: spread(plain!) },
    { scenario: '8. spool end-to-end', contender: spooled!.name, unit: 'events/s', median: spooled!.median, spread: spread(spooled!), ratio: { against: 'no spool', value: ratio, target: '>= 0.7', met: ratio >= 0.7 }, note: `${total} events, NullSink` }
  ]

  // 'os': 64 producers, each record x10 then await persisted().
  const osTotal = scaled(500_000)
  const latencies: number[] = []
  let syncsPerSecond = 0
  const os = await compare([{
    name: "spool 'os', 64 producers",
    run: () => withDir(async (dir) => {
      const counter = { syncs: 0 }
      const store = new AuditStore({ sink: new NullSink(), logger: silent, bufferSize: 100_000, spool: { dir, durability: 'os' }, [kSpoolFiles]: countingFiles(counter) } as AuditStoreOptions)
      let next = 0
      const started = performance.now()
      const producer = async (): Promise<void> => {
        while (next < osTotal) {
          for (let i = 0; i < 10; i++) store.record(pool[next++ % pool.length]!)
          const t0 = performance.now()
          await store.persisted()
          latencies.push(performance.now() - t0)
        }
      }
      await Promise.all(Array.from({ length: 64 }, producer))
      const seconds = (performance.now() - started) / 1000
      syncsPerSecond = counter.syncs / seconds
      await store.close()
      return next / seconds
    })
  }], { reps, warmup: 1 })
  latencies.sort((a, b) => a - b)
  const p = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  rows.push({
    scenario: "8. spool 'os' group commit", contender: os[0]!.name, unit: 'events/s', median: os[0]!.median, spread: spread(os[0]!),
    ratio: { against: '100k events/s', value: os[0]!.median / 100_000, target: '>= 1', met: os[0]!.median >= 100_000 },
    note: `${Math.round(syncsPerSecond)} fdatasyncs/s (last rep), persisted() p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(2)} ms`
  })

  // Recovery of a spool of 1M events: a store whose sink never answers is destroyed with them spooled.
  const recoveryTotal = scaled(1_000_000)
  const recovery = await withDir(async (dir) => {
    class Stuck extends NullSink { protected override sendBatch (): Promise<void> { return new Promise(() => {}) } }
    const filler = createAuditStore({ sink: new Stuck(), logger: silent, bufferSize: recoveryTotal + 1, spool: { dir, maxBytes: 2 ** 40 } })
    for (let i = 0; i < recoveryTotal; i++) {
      filler.record(pool[i % pool.length]!)
      if (i % 1000 === 999) await yieldToLoop()
    }
    await filler.persisted()
    filler.destroy()
    rmSync(join(dir, 'lock'), { force: true })
    const started = performance.now()
    const store = createAuditStore({ sink: new NullSink(), logger: silent, spool: { dir } })
    const opened = performance.now() - started
    await store.flush()
    const delivered = performance.now() - started
    const stats = await store.close()
    if (stats.recovered !== recoveryTotal || stats.written !== recoveryTotal) throw new Error(`recovery bench: ${JSON.stringify(stats)}`)
    return { opened, delivered }
  })
  rows.push({
    scenario: '8. spool recovery', contender: `open ${recoveryTotal} events (scan + CRC)`, unit: 'ms', median: recovery.opened, spread: 'one run'
  }, {
    scenario: '8. spool recovery', contender: `replay + deliver ${recoveryTotal} events`, unit: 'ms', median: recovery.delivered, spread: 'one run', note: 'NullSink'
  })
  return rows
}
