/**
 * `--openapi <file>` on `audit-stream send` and `audit-stream serve`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFaultServer, created } from '../helpers/fault-server.js'
import { makeEvent } from '../helpers/fixtures.js'
import { runTs } from '../helpers/child.js'
import { tempDir } from '../helpers/temp-dir.js'

const cli = fileURLToPath(new URL('../../lib/cli/index.ts', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../fixtures/datastorage-openapi.yaml', import.meta.url))

const gateway = (fingerprint: string | undefined): Record<string, unknown> => ({
  version: '1.0', event_type: 'gateway.signal.received', event_timestamp: '2026-05-01T10:00:00Z', event_category: 'gateway',
  event_action: 'received', event_outcome: 'success', correlation_id: 'cli-openapi',
  event_data: { event_type: 'gateway.signal.received', signal_type: 'alert', signal_name: 'X', namespace: 'n', ...(fingerprint === undefined ? {} : { fingerprint }) }
})

test('audit-stream send --openapi refuses events the document refuses and sends the rest', async (t) => {
  const dir = tempDir(t, 'audit-openapi-cli-')
  const file = join(dir, 'events.jsonl')
  await writeFile(file, [gateway('f1'), gateway(undefined), gateway('f2')].map((e) => JSON.stringify(e)).join('\n') + '\n')
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { code, stdout } = await runTs(cli, ['send', file, '--url', server.url, '--openapi', FIXTURE], { env: { AUDIT_STREAM_URL: '' } })
  assert.equal(code, 1)
  assert.match(stdout, /3 events read, 2 stored/)
  assert.match(stdout, /1 invalid/)
})

test('audit-stream send --openapi with an unreadable document exits 2', async () => {
  const { code } = await runTs(cli, ['send', '-', '--url', 'http://127.0.0.1:9', '--openapi', '/nonexistent/spec.yaml'], { env: { AUDIT_STREAM_URL: '' }, input: '' })
  assert.equal(code, 2)
})

test('audit-stream serve --openapi validates with the document', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--openapi', FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        const match = /listening on (\S+)/.exec(out)
        if (match !== null) resolve(match[1]!)
      })
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)))
    })
    const post = (body: unknown): Promise<Response> => fetch(`${url}/api/v1/audit/events/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    assert.equal((await post([gateway('f1')])).status, 201)
    const refused = await post([gateway('f1'), makeEvent(1)])
    assert.equal(refused.status, 400)
    const problem = await refused.json() as { field_errors: Record<string, string> }
    assert.ok(Object.keys(problem.field_errors).some((key) => key.startsWith('[1].')), JSON.stringify(problem))
  } finally {
    child.kill('SIGTERM')
  }
})
