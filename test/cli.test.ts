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
