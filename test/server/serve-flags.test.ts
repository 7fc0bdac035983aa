/**
 * `audit-stream serve --max-batch-items --body-limit`: the limits reach the server.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { makeEvent } from '../helpers/fixtures.js'
import { runTs } from '../helpers/child.js'

const cli = fileURLToPath(new URL('../../lib/cli/index.ts', import.meta.url))

test('serve applies --max-batch-items and --body-limit', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--max-batch-items', '2', '--body-limit', '4096'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  let stdout = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const match = /listening on (http:\/\/\S+) /.exec(stdout)
      if (match !== null) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)))
  })
  const post = async (count: number, pad = 0): Promise<number> => (await fetch(`${url}/api/v1/audit/events/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: count }, (_, i) => ({ ...makeEvent(i, 'serve-flags'), event_data: { pad: 'x'.repeat(pad) } })))
  })).status
  assert.equal(await post(2), 201)
  assert.equal(await post(3), 413)
  assert.equal(await post(1, 5000), 413)
})

test('serve refuses a limit that is not a number', async () => {
  const { code, stderr } = await runTs(cli, ['serve', '--max-batch-items', 'many'])
  assert.equal(code, 2)
  assert.match(stderr, /--max-batch-items must be a number/)
})

test('serve refuses a --trail-public-key file that cannot be read', async () => {
  const { code, stderr } = await runTs(cli, ['serve', '--trail-public-key', '/nonexistent/key.pem'])
  assert.equal(code, 2)
  assert.match(stderr, /--trail-public-key/)
})
