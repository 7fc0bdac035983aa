import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { runTs } from '../helpers/child.js'

const runExample = (name: string, env: Record<string, string>) => runTs(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), [], { env })

test('the quickstart stores every event in the reference server and reports it', async () => {
  const { code, stdout, stderr } = await runExample('quickstart.ts', { QUICKSTART_EVENTS: '5000' })
  assert.equal(code, 0, stderr)
  assert.match(stdout, /flush: 5000 written, 0 dead-lettered, 0 dropped, 0 lost/)
  assert.match(stdout, /stored under quickstart-[0-9a-f-]+: 5000 of 5000 events/)
  assert.match(stdout, /throughput: \d+ events\/s/)
  // Not a TTY: a plain line per 10 % reached, ending at 100 %, before the summary.
  const lines = stdout.split('\n').filter((line) => /^\d+% \(\d+\/5000 stored\)$/.test(line))
  assert.ok(lines.length >= 1 && lines.length <= 11, lines.join(' | '))
  assert.equal(lines.at(-1), '100% (5000/5000 stored)')
  assert.ok(stdout.indexOf('100% (5000/5000 stored)') < stdout.indexOf('flush: '))
})

test('the stream-chain ETL example stores valid records and dead-letters the invalid one without stopping', async (t) => {
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  const { code, stdout, stderr } = await runExample('etl-stream-chain.ts', { AUDIT_DATASTORAGE_URL: server.url })
  assert.equal(code, 0, stderr)
  assert.match(stdout, /etl: 12 records read, 11 written, 1 dead-lettered/)
  const reply = await fetch(`${server.url}/api/v1/audit/events?event_category=orders&limit=100`)
  assert.equal(((await reply.json()) as { pagination: { total: number } }).pagination.total, 11)
})

test('the verifiable trail example verifies every lane it wrote, through its last seq, anchored by signed checkpoints', async () => {
  const { code, stdout, stderr } = await runExample('verifiable-trail.ts', { TRAIL_EVENTS: '2000' })
  assert.equal(code, 0, stderr)
  assert.match(stdout, /flush: 2000 written, 0 dead-lettered, 0 lost; producer [0-9a-f-]{36}/)
  const lanes = [...stdout.matchAll(/lane (\d): verified through seq (\d+) \((\d+) signed checkpoints\)/g)]
  assert.ok(lanes.length >= 1, stdout)
  assert.equal(lanes.reduce((sum, m) => sum + Number(m[2]), 0), 2000, 'the lanes together hold every event')
  assert.ok(lanes.every((m) => Number(m[3]) >= 1))
  assert.doesNotMatch(stdout, /FAILED/)
})

test('the HTTP service example records every request and delivers them all on SIGTERM', async (t) => {
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  const file = fileURLToPath(new URL('../../examples/http-service.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AUDIT_DATASTORAGE_URL: server.url, PORT: '0' } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const base = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const match = /listening on (http:\S+)/.exec(out)
      if (match !== null) resolve(match[1]!)
    })
    void exited.then(() => reject(new Error(stderr)))
  })
  const run = randomUUID()
  const ids = Array.from({ length: 25 }, (_, i) => `${run}-${i}`)
  for (const [i, id] of ids.entries()) {
    const res = await fetch(`${base}/${i === 3 ? 'missing' : `orders/${i}`}`, { headers: { 'x-request-id': id } })
    await res.text()
  }
  child.kill('SIGTERM')
  assert.equal(await exited, 0, stderr)
  for (const id of ids) {
    const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=${id}`)
    const { data } = (await reply.json()) as { data: Array<{ event_outcome: string }> }
    assert.equal(data.length, 1, id)
  }
  const missing = await fetch(`${server.url}/api/v1/audit/events?correlation_id=${ids[3]}`)
  assert.equal(((await missing.json()) as { data: Array<{ event_outcome: string }> }).data[0]!.event_outcome, 'failure')
})
