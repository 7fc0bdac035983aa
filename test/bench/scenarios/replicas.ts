/**
 * 8. Scale out: the server's ingest path per engine (COPY FROM STDIN against
 * the jsonb_to_recordset INSERT, straight into the repository, batches of
 * 1000), then end-to-end events/s through 1, 2 and 3 reference-server
 * replicas (`audit-stream serve` child processes) on one PostgreSQL, with one
 * DataStorageSink listing every replica. Needs DATABASE_URL for the
 * PostgreSQL rows (each run uses a database of its own, dropped afterwards).
 * On a 2-core machine the replicas, PostgreSQL and the client share the
 * cores: the curve shows where one PostgreSQL becomes the limit.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { DataStorageSink, createAuditStore, type AuditEvent } from '../../../lib/index.js'
import { AuditRepository, type IngestMethod } from '../../../lib/server/audit-repository.js'
import { openDatabase } from '../../../lib/server/database.js'
import { migrate } from '../../../lib/server/migrations.js'
import { maintainPartitions } from '../../../lib/server/partitions.js'
import { scaled, silent, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread } from '../harness.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BATCH = 1000

async function withDatabase<T> (fn: (url: string) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_bench_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  try {
    const url = new URL(process.env.DATABASE_URL!)
    url.pathname = `/${name}`
    return await fn(url.toString())
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

async function ingestRows (reps: number, events: AuditEvent[]): Promise<Row[]> {
  const rows: Row[] = []
  const engines: Array<{ name: string, open: () => Promise<string>, done?: () => void }> = [{ name: 'PGlite', open: async () => 'memory://' }]
  const run = async (name: string, location: string): Promise<void> => {
    // PGlite's COPY from /dev/blob is slow at this batch size: fewer events keep the run short.
    const total = scaled(name === 'PGlite' ? 10_000 : 50_000)
    const db = await openDatabase(location)
    try {
      await migrate(db)
      await maintainPartitions(db, new Date())
      const contender = (method: IngestMethod) => ({
        name: `${name}: ${method === 'copy' ? 'COPY FROM STDIN' : 'INSERT jsonb_to_recordset'}`,
        run: async () => {
          const repo = new AuditRepository(db, method)
          const started = performance.now()
          for (let i = 0; i < total; i += BATCH) {
            await repo.insert(events.slice(0, BATCH), randomUUID(), 'h', (ids) => ({ statusCode: 201, body: { n: ids.length } }))
          }
          return total / ((performance.now() - started) / 1000)
        }
      })
      const [insert, copy] = await compare([contender('insert'), contender('copy')], { reps, warmup: 1 })
      const kept = db.engine === 'postgres' ? 'COPY' : 'INSERT'
      rows.push({ scenario: '8. ingest', contender: insert!.name, unit: 'events/s', median: insert!.median, spread: spread(insert!), note: `${total} events in batches of ${BATCH}; kept on ${name}: ${kept}` })
      rows.push({ scenario: '8. ingest', contender: copy!.name, unit: 'events/s', median: copy!.median, spread: spread(copy!), ratio: { against: 'INSERT', value: copy!.median / insert!.median, target: 'informational', met: true } })
    } finally {
      await db.close()
    }
  }
  for (const engine of engines) await run(engine.name, await engine.open())
  if (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '') await withDatabase((url) => run('PostgreSQL', url))
  else rows.push({ scenario: '8. ingest', contender: 'PostgreSQL', unit: 'events/s', median: 0, spread: '', note: 'skipped: DATABASE_URL is not set' })
  return rows
}

async function startReplica (database: string): Promise<{ url: string, child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/index.ts', 'serve', '--port', '0', '--database', database], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
  const url = await new Promise<string>((resolve, reject) => {
    let text = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const match = /listening on (\S+)/.exec(text)
      if (match !== null) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`replica exited with ${code}`)))
  })
  return { url, child }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function replicaCurve (reps: number, events: AuditEvent[]): Promise<Row[]> {
  if (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '') {
    return [{ scenario: '8. replicas', contender: '1, 2, 3 replicas', unit: 'events/s', median: 0, spread: '', note: 'skipped: DATABASE_URL is not set' }]
  }
  const total = scaled(60_000)
  return withDatabase(async (database) => {
    const rows: Row[] = []
    const replicas: Array<{ url: string, child: ChildProcess }> = []
    try {
      let single: number | undefined
      for (const count of [1, 2, 3]) {
        while (replicas.length < count) replicas.push(await startReplica(database))
        const urls = replicas.map((r) => r.url)
        const [m] = await compare([{
          name: `${count} replica${count > 1 ? 's' : ''}`,
          run: async () => {
            // Two batches in flight per replica, so that each replica has work while the other's answer travels.
            const store = createAuditStore({ sink: new DataStorageSink({ url: urls, concurrency: 2 * count }), batchSize: BATCH, bufferSize: total + BATCH, logger: silent, maxBatchBytes: 64 * 1024 * 1024 })
            const started = performance.now()
            for (let i = 0; i < total; i++) {
              store.record(events[i % events.length]!)
              if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
            }
            await store.flush()
            const rate = total / ((performance.now() - started) / 1000)
            const stats = await store.close()
            if (stats.written !== total) throw new Error(`replicas bench wrote ${stats.written} of ${total}`)
            return rate
          }
        }], { reps, warmup: 1 })
        single ??= m!.median
        rows.push({
          scenario: '8. replicas', contender: m!.name, unit: 'events/s', median: m!.median, spread: spread(m!),
          ...(count > 1 ? { ratio: { against: '1 replica', value: m!.median / single, target: 'informational', met: true } } : {}),
          note: `${Math.round(m!.median / count)} events/s per replica; ${total} events of ${Math.round(meanBytes(events))} B, batches of ${BATCH}, COPY`
        })
      }
    } finally {
      await Promise.all(replicas.map((r) => stop(r.child)))
    }
    return rows
  })
}

export async function replicas (reps: number): Promise<Row[]> {
  const events = makeEvents(5_000, 500)
  return [...await ingestRows(reps, events), ...await replicaCurve(reps, events)]
}
