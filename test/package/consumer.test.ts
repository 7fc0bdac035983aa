/**
 * The package as its users get it: built, `npm pack`ed, and installed from
 * the tarball into a project outside the repo (no workspace links). There,
 * TypeScript (strict, NodeNext, skipLibCheck off) compiles the README's code
 * blocks and an app that uses the whole public surface; the app then runs
 * against the reference server from `audit-stream/server`, a CommonJS file
 * requires the package, and `npx audit-stream --help` answers.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { exec, installProject, packTarball, repoRoot } from '../helpers/pack.js'

// Sections of the README whose ```ts blocks must compile for a user.
const README_SECTIONS = ['Usage', 'Sinks', 'Dead letter', 'Shutdown and metrics', 'Reference DataStorage server', 'Running at scale', 'Trails you can verify']

// Free variables the README's blocks use without defining them.
const README_PRELUDE = `import type { Readable, Transform } from 'node:stream'
import type { AuditStore } from 'audit-stream'
declare const requestId: string
declare const orderId: string
declare const alertFingerprint: string
declare const source: Readable
declare const mapToAuditEvents: Transform
declare const url: string
declare const store: AuditStore
`

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
    rootDir: 'src'
  },
  include: ['src']
}

// Uses every public piece a service uses, and stores its events in a real server.
const APP = `import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import {
  createAuditStore, newAuditEvent, DataStorageSink, FileDeadLetter, replayDeadLetters,
  installShutdownHandler, collectMetrics,
  type AuditEvent, type BatchEventInfo, type RetryEventInfo, type DropEventInfo, type DeadLetterEventInfo,
  type FlushResult, type StoreStats, type ReplayResult
} from 'audit-stream'
import { startDataStorageServer, type DataStorageServer } from 'audit-stream/server'

const server: DataStorageServer = await startDataStorageServer()
const dir = await mkdtemp(join(tmpdir(), 'consumer-dlq-'))
const correlationId = 'consumer-' + process.pid + '-' + Date.now()
const event = (i: number): AuditEvent => newAuditEvent({
  event_type: 'consumer.tested', event_category: 'consumer', event_action: 'test',
  event_outcome: 'success', correlation_id: correlationId, event_data: { i }
})

const store = createAuditStore({ sink: new DataStorageSink({ url: server.url }), deadLetter: new FileDeadLetter({ dir }), batchSize: 10 })
const seen = { batch: 0, retry: 0, drop: 0, deadLetter: 0 }
store.on('batch', (info: BatchEventInfo) => { seen.batch += info.count })
store.on('retry', (info: RetryEventInfo) => { seen.retry += info.count })
store.on('drop', (info: DropEventInfo) => { seen.drop += info.count })
store.on('dead-letter', (info: DeadLetterEventInfo) => { seen.deadLetter += info.count })
const uninstall: () => void = installShutdownHandler(store, { exit: false })
const registry = new Registry()
const stopMetrics: () => void = collectMetrics(store, { registry, labels: { service: 'consumer' } })

const accepted: boolean = store.record(event(0))
const flushed: FlushResult = await store.flush()
const metrics = await registry.metrics()
await pipeline(Readable.from(Array.from({ length: 24 }, (_, i) => event(i + 1))), store)
const stats: StoreStats = await store.close()
stopMetrics()
uninstall()

// A dead-letter entry, replayed into the server.
await new FileDeadLetter({ dir }).write({ reason: 'exhausted', batchId: 'consumer-b1', events: [JSON.stringify(event(25))], attempts: 3, at: new Date().toISOString() })
const replayed: ReplayResult = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }) })

const reply = await fetch(server.url + '/api/v1/audit/events?correlation_id=' + correlationId + '&limit=1')
const { pagination } = await reply.json() as { pagination: { total: number } }
const ui = (await Promise.all(['/ui', '/ui/assets/app.js'].map(async (path) => (await fetch(server.url + path)).status))).join(' ')
await server.close()
await rm(dir, { recursive: true, force: true })
console.log(JSON.stringify({
  accepted, flushed: flushed.written, written: stats.written, seen, replayed: replayed.written,
  stored: pagination.total, metricsWritten: /audit_events_written_total\\{service="consumer"\\} 1\\b/.test(metrics), ui
}))
`

const CJS = `const { createAuditStore, MemorySink, newAuditEvent } = require('audit-stream')
const { startDataStorageServer } = require('audit-stream/server')
const sink = new MemorySink()
const store = createAuditStore({ sink })
store.record(newAuditEvent({ event_type: 'cjs', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'cjs', event_data: {} }))
store.flush().then((result) => console.log(JSON.stringify({ written: result.written, events: sink.events.length, server: typeof startDataStorageServer })))
`

/** The ```ts blocks of the named level-2 sections (subsections included). */
export function readmeBlocks (readme: string, sections: readonly string[]): string[] {
  const blocks: string[] = []
  let inSection = false
  let block: string[] | undefined
  for (const line of readme.split('\n')) {
    if (block !== undefined) {
      if (line.startsWith('```')) {
        blocks.push(block.join('\n'))
        block = undefined
      } else {
        block.push(line)
      }
      continue
    }
    if (line.startsWith('## ')) inSection = sections.some((s) => line.slice(3).trim() === s)
    else if (inSection && line.trim() === '```ts') block = []
  }
  return blocks
}

/**
 * One TypeScript file from README blocks: their imports merged at the top
 * (named imports only), each block's body in a function of its own.
 */
export function readmeModule (blocks: readonly string[]): string {
  const named = new Map<string, Set<string>>()
  const bodies: string[] = []
  for (const block of blocks) {
    const body: string[] = []
    for (const line of block.split('\n')) {
      const match = /^import (type )?\{([^}]*)\} from '([^']+)'$/.exec(line.trim())
      if (match === null) {
        if (line.startsWith('import ')) throw new Error(`README import the consumer test cannot merge (use named imports): ${line}`)
        body.push(line)
        continue
      }
      const [, typeOnly, names, from] = match
      const set = named.get(from!) ?? new Set<string>()
      for (const name of names!.split(',').map((n) => n.trim()).filter(Boolean)) set.add(typeOnly === undefined ? name : `type ${name.replace(/^type /, '')}`)
      named.set(from!, set)
    }
    bodies.push(body.join('\n'))
  }
  const imports = [...named].map(([from, names]) => {
    // A name imported as a value and as a type is imported once, as a value.
    const values = new Set([...names].filter((n) => !n.startsWith('type ')))
    const list = [...names].filter((n) => !n.startsWith('type ') || !values.has(n.slice(5)))
    return `import { ${list.join(', ')} } from '${from}'`
  })
  return [...imports, README_PRELUDE, ...bodies.map((body, i) => `export async function readmeBlock${i} (): Promise<void> {\n${body}\n}\n`)].join('\n')
}

let tarball: string
let project: string

before(async () => {
  tarball = await packTarball()
  const version = async (name: string): Promise<string> => (JSON.parse(await readFile(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  const extras = await Promise.all(['typescript', '@types/node', 'prom-client', '@electric-sql/pglite'].map(async (name) => `${name}@${await version(name)}`))
  project = await installProject([tarball, ...extras], { type: 'module' })
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2))
  const { mkdir } = await import('node:fs/promises')
  await mkdir(join(project, 'src'))
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
  await writeFile(join(project, 'src', 'readme.ts'), readmeModule(readmeBlocks(readme, README_SECTIONS)))
  await writeFile(join(project, 'src', 'app.ts'), APP)
  await writeFile(join(project, 'cjs.cjs'), CJS)
})

after(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true })
  if (tarball !== undefined) await rm(dirname(tarball), { recursive: true, force: true })
})

test('the README blocks of every user-facing section are found', async () => {
  const blocks = readmeBlocks(await readFile(join(repoRoot, 'README.md'), 'utf8'), README_SECTIONS)
  assert.ok(blocks.length >= 6, `found ${blocks.length} blocks`)
  for (const call of ['createAuditStore', 'DataStorageSink', 'replayDeadLetters', 'installShutdownHandler', 'collectMetrics', 'startDataStorageServer', 'TrailOptions']) {
    assert.ok(blocks.some((b) => b.includes(call)), call)
  }
})

test('a strict NodeNext TypeScript project compiles the README examples and an app using the whole API, with skipLibCheck off', async () => {
  const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc')
  const { stdout, stderr } = await exec(process.execPath, [tsc, '-p', project], project)
  assert.equal(stdout + stderr, '')
})

test('the published declarations hold no internal members and no optional peer\'s types', async () => {
  const dist = join(project, 'node_modules', 'audit-stream', 'dist')
  const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.d.ts'))
  assert.ok(files.includes('index.d.ts') && files.includes(join('server', 'index.d.ts')))
  for (const file of files) {
    const text = await readFile(join(dist, file), 'utf8')
    assert.doesNotMatch(text, /^import .* from '(prom-client|pg|@electric-sql\/pglite|pino-pretty)'/m, file)
    assert.doesNotMatch(text, /import\("(prom-client|pg|@electric-sql\/pglite|pino-pretty)"\)/, file)
    assert.doesNotMatch(text, /^\s*(attach|counters|settledEvents|kFlushSeam)\b/m, file)
    assert.doesNotMatch(text, /@internal/, file)
  }
})

test('the compiled app runs as ESM against the reference server from audit-stream/server and stores its events', { timeout: 60_000 }, async () => {
  const { stdout } = await exec(process.execPath, [join(project, 'out', 'app.js')], project)
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>
  assert.deepEqual(result, {
    accepted: true, flushed: 1, written: 25, seen: { batch: 25, retry: 0, drop: 0, deadLetter: 0 }, replayed: 1, stored: 26, metricsWritten: true, ui: '200 200'
  })
})

test('a CommonJS file can require audit-stream and audit-stream/server (require(esm), Node >= 20.19)', async () => {
  const { stdout } = await exec(process.execPath, [join(project, 'cjs.cjs')], project)
  assert.deepEqual(JSON.parse(stdout.trim()), { written: 1, events: 1, server: 'function' })
})

test('npx audit-stream --help works from the consumer project', async () => {
  const { stdout } = await exec('npx', ['--no', '--', 'audit-stream', '--help'], project)
  assert.match(stdout, /^Usage: audit-stream <command>/)
})
