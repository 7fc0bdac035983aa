import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileDeadLetter } from '../lib/index.js'
import { startFaultServer, created } from './helpers/fault-server.js'
import { makeEvent } from './helpers/fixtures.js'

const cli = fileURLToPath(new URL('../lib/cli/index.ts', import.meta.url))

function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AUDIT_STREAM_URL: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('audit-stream --help prints the usage and exits 0', async () => {
  const { code, stdout } = await run(['--help'])
  assert.equal(code, 0)
  assert.match(stdout, /Usage: audit-stream <command>/)
})

test('bad usage exits 2 and says what is wrong', async () => {
  for (const args of [['bogus'], ['replay'], ['replay', '/tmp/x'], ['replay', '/tmp/x', '--url', 'http://x', '--nope']]) {
    const { code, stderr } = await run(args)
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /audit-stream: /)
  }
})

test('audit-stream replay resends dead-lettered events and prints a summary line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'audit-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const dl = new FileDeadLetter({ dir })
  await dl.write({ reason: 'exhausted', batchId: 'b1', events: [JSON.stringify(makeEvent(1)), JSON.stringify(makeEvent(2))], attempts: 3, at: new Date().toISOString() })
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { code, stdout } = await run(['replay', dir, '--url', server.url, '--token', 'cli-token'])
  assert.equal(code, 0)
  assert.match(stdout, /replay complete: 1 files, 1 entries, 2 events; 2 stored, 0 dead-lettered again, 0 lost/)
  assert.equal(server.requests[0]!.headers.authorization, 'Bearer cli-token')
  assert.ok((await readdir(dir)).every((f) => f.endsWith('.replayed')))
})

test('audit-stream serve starts a server that stores events and shuts down cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--database', 'memory://', '--token', 't0ken'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const match = /listening on (http:\/\/\S+) \(pglite\)/.exec(stdout)
      if (match !== null) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)))
  })
  const headers = { 'content-type': 'application/json', authorization: 'Bearer t0ken' }
  const posted = await fetch(`${url}/api/v1/audit/events/batch`, { method: 'POST', headers, body: JSON.stringify([makeEvent(1, 'cli-serve')]) })
  assert.equal(posted.status, 201)
  const found = await fetch(`${url}/api/v1/audit/events?correlation_id=cli-serve`, { headers })
  assert.equal(((await found.json()) as { pagination: { total: number } }).pagination.total, 1)
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
  assert.match(stderr, /shutting down/)
  assert.ok(!stderr.includes('t0ken'), 'the token is not logged')
})
