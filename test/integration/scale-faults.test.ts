/**
 * Issue 14's proof under faults: three reference-server replicas (the CLI's
 * `serve`, as child processes) on one private PostgreSQL cluster, twelve
 * producer processes each with a store listing all three URLs, recording and
 * flushing in a loop, while one replica is SIGKILLed and restarted twice,
 * another is stopped gracefully and restarted, and PostgreSQL is restarted.
 *
 * FAULT_RUN_MS sets the producers' run time (default 20000; the run
 * is 30000), FAULT_SEED the seed (printed with the counts on failure).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { DEAD_LETTER_FILE_PREFIX } from '../../lib/index.js'
import { freePort, privatePostgresUnavailable, startPrivatePostgres } from '../helpers/private-postgres.js'
import { tempDir } from '../helpers/temp-dir.js'

const RUN_MS = Number(process.env.FAULT_RUN_MS ?? 20_000)
const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))
const PRODUCERS = 12
const ROOT = new URL('../../', import.meta.url).pathname


interface Replica { port: number, url: string, child: ChildProcess | undefined, log: string[], expectedExit: boolean, diedOnItsOwn: string[] }

// Starts `audit-stream serve` on the replica's port; resolves once it listens.
async function startReplica (r: Replica, database: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/index.ts', 'serve', '--port', String(r.port), '--database', database], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  r.child = child
  r.expectedExit = false
  const keep = (chunk: Buffer): void => { r.log.push(...chunk.toString().split('\n').filter(Boolean)); r.log.splice(0, Math.max(0, r.log.length - 200)) }
  child.stderr.on('data', keep)
  child.on('exit', (code, signal) => {
    if (!r.expectedExit) r.diedOnItsOwn.push(`exit ${code ?? ''} ${signal ?? ''}`)
  })
  await new Promise<void>((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('listening on')) resolve()
    })
    child.once('exit', () => reject(new Error(`replica on port ${r.port} exited while starting: ${r.log.slice(-5).join(' | ')}`)))
  })
}

async function stopReplica (r: Replica, signal: NodeJS.Signals): Promise<number | null> {
  const child = r.child
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return null
  r.expectedExit = true
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.kill(signal)
  return exited
}

test('replicas, producers and PostgreSQL under faults: every resolved flush stored exactly once, nothing lost silently', { skip: privatePostgresUnavailable(), timeout: RUN_MS + 120_000 }, async (t) => {
  const postgres = await startPrivatePostgres()
  t.after(() => postgres.stop())
  const deadLetters = tempDir(t, 'audit-stream-scale-dlq-')
  const replicas: Replica[] = []
  for (let i = 0; i < 3; i++) {
    const port = await freePort()
    replicas.push({ port, url: `http://127.0.0.1:${port}`, child: undefined, log: [], expectedExit: false, diedOnItsOwn: [] })
  }
  t.after(() => Promise.all(replicas.map((r) => stopReplica(r, 'SIGKILL'))).then(() => {}))
  // The first starts alone so that the others find the schema made (they would wait on the migration lock anyway).
  await startReplica(replicas[0]!, postgres.url)
  await Promise.all(replicas.slice(1).map((r) => startReplica(r, postgres.url)))

  const outputs: string[][] = []
  const producers = Array.from({ length: PRODUCERS }, (_, id) => {
    const lines: string[] = []
    outputs.push(lines)
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/fault-producer.ts', String(id), replicas.map((r) => r.url).join(','), String(RUN_MS), String(SEED), deadLetters], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let rest = ''
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n')
      rest = parts.pop()!
      lines.push(...parts.filter(Boolean))
    })
    return new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  })
  t.after(async () => { for (const p of producers) await p })

  // Faults, on a timeline scaled to the run (producer start-up takes a few seconds of it).
  const faults: string[] = []
  const at = async (fraction: number): Promise<void> => { await sleep(Math.max(0, startedAt + fraction * RUN_MS - Date.now())) }
  const startedAt = Date.now() + 3_000
  const [a, b] = replicas as [Replica, Replica, Replica]
  await at(0.15)
  await stopReplica(a, 'SIGKILL'); faults.push('replica 0 SIGKILL')
  await sleep(1_500)
  await startReplica(a, postgres.url); faults.push('replica 0 restarted')
  await at(0.35)
  const graceful = await stopReplica(b, 'SIGTERM'); faults.push(`replica 1 SIGTERM, exit ${graceful}`)
  await sleep(1_000)
  await startReplica(b, postgres.url); faults.push('replica 1 restarted')
  await at(0.55)
  await postgres.restart(); faults.push('PostgreSQL restarted')
  await at(0.75)
  await stopReplica(a, 'SIGKILL'); faults.push('replica 0 SIGKILL')
  await sleep(1_500)
  await startReplica(a, postgres.url); faults.push('replica 0 restarted')

  const exitCodes = await Promise.all(producers)

  // What the producers saw.
  const resolved = new Set<string>()
  const rejected = new Set<string>()
  const rejections: unknown[] = []
  const finals: Array<{ stats: { accepted: number, written: number, deadLettered: number, lost: number, dropped: number }, replicas: unknown }> = []
  for (const [id, lines] of outputs.entries()) {
    for (const line of lines) {
      const report = JSON.parse(line) as { ok?: number[], rejected?: number[], error?: string, result?: unknown, stats?: never, replicas?: unknown }
      if (report.ok !== undefined) for (const n of report.ok) resolved.add(`${id}:${n}`)
      else if (report.rejected !== undefined) {
        for (const n of report.rejected) rejected.add(`${id}:${n}`)
        rejections.push({ producer: id, error: report.error, result: report.result })
      } else finals.push(report as never)
    }
  }
  // What PostgreSQL holds.
  const db = new pg.Client({ connectionString: postgres.url })
  await db.connect()
  const rows = (await db.query<{ key: string, copies: number }>(
    "SELECT (event_data->>'producer') || ':' || (event_data->>'n') AS key, count(*)::int AS copies FROM audit_events WHERE event_type = 'scale.fault' GROUP BY 1")).rows
  const ids = (await db.query<{ total: number, distinct: number }>('SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct FROM audit_events')).rows[0]!
  await db.end()
  const stored = new Map(rows.map((r) => [r.key, r.copies]))
  // What the dead letter holds.
  const deadLettered = new Set<string>()
  for (const file of (await readdir(deadLetters)).filter((f) => f.startsWith(DEAD_LETTER_FILE_PREFIX))) {
    for (const line of (await readFile(join(deadLetters, file), 'utf8')).split('\n').filter(Boolean)) {
      for (const event of (JSON.parse(line) as { events: string[] }).events) {
        const data = (JSON.parse(event) as { event_data: { producer: number, n: number } }).event_data
        deadLettered.add(`${data.producer}:${data.n}`)
      }
    }
  }

  const missing = [...resolved].filter((k) => stored.get(k) !== 1)
  const doubled = [...stored].filter(([, copies]) => copies > 1)
  const unreported = [...rejected].filter((k) => !deadLettered.has(k) && stored.get(k) !== 1)
  const accepted = finals.reduce((sum, f) => sum + f.stats.accepted, 0)
  const lost = finals.reduce((sum, f) => sum + f.stats.lost + f.stats.dropped, 0)
  const summary = {
    seed: SEED, runMs: RUN_MS, faults, producerExitCodes: exitCodes, flushedEvents: resolved.size, rejectedEvents: rejected.size,
    rejections: rejections.slice(0, 5), storedEvents: rows.length, eventIds: ids, accepted, lost, deadLettered: deadLettered.size,
    missing: missing.length, doubled: doubled.length, unreported: unreported.length,
    diedOnTheirOwn: replicas.map((r) => r.diedOnItsOwn), replicasSeenByProducer0: finals[0]?.replicas
  }
  console.log(`# scale fault run: ${JSON.stringify(summary)}`)
  const context = `counts and seed: ${JSON.stringify(summary)}\nreplica logs (tail): ${replicas.map((r) => r.log.slice(-10).join('\n')).join('\n---\n')}`

  assert.deepEqual(replicas.map((r) => r.diedOnItsOwn), [[], [], []], `no replica dies on its own; ${context}`)
  assert.equal(graceful !== null && graceful === 0, true, `the graceful stop exits 0; ${context}`)
  assert.deepEqual(exitCodes, Array(PRODUCERS).fill(0), `every producer ran to its end; ${context}`)
  assert.equal(finals.length, PRODUCERS, context)
  assert.ok(resolved.size > 0, context)
  assert.equal(rejected.size, 0, `with a retry budget longer than the outages no flush rejects; ${context}`)
  assert.deepEqual(missing, [], `every event whose flush resolved is stored; ${context}`)
  assert.deepEqual(doubled, [], `no event is stored twice; ${context}`)
  assert.equal(ids.total, ids.distinct, `no duplicate event_id; ${context}`)
  assert.deepEqual(unreported, [], `every event of a rejected flush is in the dead letter; ${context}`)
  assert.equal(lost, 0, `nothing lost silently; ${context}`)
  assert.equal(accepted, resolved.size + rejected.size, `every accepted event was reported by a flush; ${context}`)

  for (const r of replicas) assert.equal(await stopReplica(r, 'SIGTERM'), 0, `a replica stops gracefully at the end; ${context}`)
})
