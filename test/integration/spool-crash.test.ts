/**
 * Crash harness: a child records at full speed into a store with a spool
 * and reports what each resolved persisted() covered; the parent kills it
 * with SIGKILL at random moments (small segments and a 15 ms checkpoint
 * interval, so that kills land during roll-over and checkpoint writes),
 * restarts it on the same directory, and at the end checks on a real
 * reference server that every acknowledged event is stored exactly once.
 *
 * SPOOL_CRASH_RUNS sets the number of kills (default 20, in two chains run side by side); SPOOL_CRASH_SEED the first seed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { join } from 'node:path'
import { pino } from 'pino'
import { startDataStorageServer } from '../../lib/server/index.js'
import { prng } from '../helpers/prng.js'
import { tempDir } from '../helpers/temp-dir.js'

const CHILD = join(import.meta.dirname, 'spool-crash', 'child.ts')
const RUNS = Number(process.env.SPOOL_CRASH_RUNS ?? 20)
const SEED = Number(process.env.SPOOL_CRASH_SEED ?? Date.now() % 1_000_000)


interface Run { acked: number, killed: boolean, recovered: number }

function runChild (args: string[], killAfterMs: number | undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const run: Run = { acked: 0, killed: false, recovered: 0 }
    let timer: NodeJS.Timeout | undefined
    child.on('message', (m: { ready?: number, acked?: number, error?: string }) => {
      if (m.ready !== undefined) {
        run.recovered = m.ready
        if (killAfterMs !== undefined) {
          timer = setTimeout(() => { run.killed = true; child.kill('SIGKILL') }, killAfterMs)
        }
      }
      if (m.acked !== undefined && !run.killed) run.acked = Math.max(run.acked, m.acked)
      if (m.error !== undefined) reject(new Error(m.error))
    })
    child.on('error', reject)
    child.on('exit', () => { clearTimeout(timer); resolve(run) })
  })
}

const CHAINS = 2

// One chain: kills `runs` children in turn on one spool directory, then drains it.
async function chain (t: { diagnostic: (m: string) => void }, url: string, dir: string, name: string, firstSeed: number, runs: number):
Promise<{ acked: Map<string, number>, recovered: number }> {
  const acked = new Map<string, number>()
  let recovered = 0
  for (let gen = 0; gen < runs; gen++) {
    const seed = firstSeed + gen
    const random = prng(seed)
    const durability = random() < 0.5 ? 'process' : 'os'
    const segmentBytes = String(16_384 + Math.floor(random() * 65_536))
    const killAfterMs = Math.floor(random() < 0.3 ? random() * 40 : 40 + random() * 600)
    const started = Date.now()
    const run = await runChild([dir, url, `${name}.${gen}`, durability, segmentBytes], killAfterMs)
    if (process.env.SPOOL_CRASH_VERBOSE !== undefined) t.diagnostic(`${name}.${gen}: ${Date.now() - started} ms, ${durability}, acked ${run.acked}, recovered ${run.recovered}`)
    assert.ok(run.killed, `run ${name}.${gen} (seed ${seed}) ended before it was killed`)
    acked.set(`${name}.${gen}`, run.acked)
    recovered += run.recovered
  }
  const final = await runChild([dir, url, `${name}.drain`, 'process', '65536', '--drain'], undefined)
  return { acked, recovered: recovered + final.recovered }
}

test(`every event whose persisted() resolved is stored exactly once across ${RUNS} SIGKILLs (seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  const server = await startDataStorageServer({ logger: pino({ level: 'silent' }) })
  t.after(() => server.close())
  const dirs = Array.from({ length: CHAINS }, () => tempDir(t, 'spool-crash-'))
  const perChain = Math.ceil(RUNS / CHAINS)
  const results = await Promise.all(dirs.map((dir, c) => chain(t, server.url, dir, `c${c}`, SEED + c * 1000, perChain)))

  // Every stored event of the harness, by the server's own query API.
  const seen = new Map<string, number>()
  const eventIds = new Set<string>()
  for (let offset = 0; ; offset += 1000) {
    const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=spool-crash&limit=1000&offset=${offset}`)
    assert.equal(reply.status, 200)
    const { data } = (await reply.json()) as { data: Array<{ event_id: string, event_data: { id: string } }> }
    for (const e of data) {
      assert.ok(!eventIds.has(e.event_id), `event_id ${e.event_id} returned twice`)
      eventIds.add(e.event_id)
      seen.set(e.event_data.id, (seen.get(e.event_data.id) ?? 0) + 1)
    }
    if (data.length < 1000) break
  }
  let ackedTotal = 0
  let recoveredTotal = 0
  const lost: string[] = []
  const duplicated: string[] = []
  for (const { acked, recovered } of results) {
    recoveredTotal += recovered
    for (const [gen, count] of acked) {
      ackedTotal += count
      for (let n = 0; n < count; n++) if (!seen.has(`${gen}:${n}`)) lost.push(`${gen}:${n}`)
    }
  }
  for (const [id, times] of seen) if (times > 1) duplicated.push(id)
  t.diagnostic(`runs ${perChain * CHAINS}, kills ${perChain * CHAINS}, acknowledged ${ackedTotal}, stored ${seen.size}, recovered on restart ${recoveredTotal}, lost ${lost.length}, duplicated ${duplicated.length}, seed ${SEED}`)
  assert.ok(ackedTotal > 0, 'no persisted() resolved in any run')
  assert.deepEqual(lost.slice(0, 10), [], `acknowledged events lost (seed ${SEED}): ${lost.length}`)
  assert.deepEqual(duplicated.slice(0, 10), [], `events stored twice (seed ${SEED}): ${duplicated.length}`)
})
