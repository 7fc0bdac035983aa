/**
 * A process that ends with accepted events undelivered never loses them
 * silently: the store flushes at beforeExit, and at exit it logs what is
 * still unsettled. Real child processes, a real reference server.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { laneOf, parseNotes } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/datastorage-server.js'
import { runTs } from '../helpers/child.js'
import { silentLogger } from '../helpers/fixtures.js'
import { tempDir } from '../helpers/temp-dir.js'

const child = fileURLToPath(new URL('../fixtures/exit-child.ts', import.meta.url))
let server: DataStorageServer
before(async () => { server = await startDataStorageServer({ logger: silentLogger }) })
after(async () => { await server?.close() })

async function stored (correlationId: string): Promise<number[]> {
  const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=${encodeURIComponent(correlationId)}&limit=100`)
  const { data } = (await reply.json()) as { data: Array<{ event_data: { seq: number } }> }
  return data.map((e) => e.event_data.seq).sort((a, b) => a - b)
}

function exitLines (stderr: string): Array<{ level: number, msg: string, count: number }> {
  return stderr.split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number, msg: string, count: number })
    .filter((l) => l.msg === 'events unsettled at exit')
}

test('five events recorded by a script that then ends are stored: the store flushes at beforeExit', async () => {
  const id = randomUUID()
  const { code, stderr } = await runTs(child, ['end', id], { env: { AUDIT_DATASTORAGE_URL: server.url } })
  assert.equal(code, 0, stderr)
  assert.deepEqual(await stored(id), [0, 1, 2, 3, 4])
  assert.deepEqual(exitLines(stderr), [])
})

test('a signing store whose script ends without close() checkpoints its lane after the flush at beforeExit', async (t) => {
  const id = randomUUID()
  const dir = tempDir(t, 'audit-exit-trail-')
  const file = join(dir, 'audit.notes')
  const { code, stderr } = await runTs(child, ['trail-end', id], { env: { AUDIT_DATASTORAGE_URL: server.url, AUDIT_TRAIL_FILE: file } })
  assert.equal(code, 0, stderr)
  assert.deepEqual(await stored(id), [0, 1, 2, 3, 4])
  const checkpoints = parseNotes(await readFile(file, 'utf8')).map((n) => n.note).filter((n) => n.kind === 'checkpoint')
  assert.deepEqual(checkpoints.map((n) => [n.lane, n.seq]), [[laneOf(id, 4), 5]])
})

test('with flushOnExit off, a script that ends logs at error level the five events still unsettled and exits 1', async () => {
  const id = randomUUID()
  const { code, stderr } = await runTs(child, ['no-flush-on-exit', id], { env: { AUDIT_DATASTORAGE_URL: server.url } })
  assert.equal(code, 1, stderr)
  assert.deepEqual(await stored(id), [])
  const lines = exitLines(stderr)
  assert.equal(lines.length, 1, stderr)
  assert.equal(lines[0]!.level, 50)
  assert.equal(lines[0]!.count, 5)
})

test('process.exit() with five events undelivered logs at error level the count still unsettled and exits 1', async () => {
  const id = randomUUID()
  const { code, stderr } = await runTs(child, ['process-exit', id], { env: { AUDIT_DATASTORAGE_URL: server.url } })
  assert.equal(code, 1, stderr)
  const lines = exitLines(stderr)
  assert.equal(lines.length, 1, stderr)
  assert.equal(lines[0]!.level, 50, 'logged at error level')
  assert.equal(lines[0]!.count, 5)
})

test('a flush that timed out does not keep the process alive, and the exit log says what could not be delivered', { timeout: 30_000 }, async () => {
  const { code, stdout, stderr } = await runTs(child, ['flush-timeout'], { timeoutMs: 20_000 })
  assert.notEqual(code, null, 'killed: something held the process alive')
  assert.equal(code, 1, stderr)
  assert.match(stdout, /flush timed out/)
  const lines = exitLines(stderr)
  assert.equal(lines.length, 1, stderr)
  assert.equal(lines[0]!.count, 5)
})
