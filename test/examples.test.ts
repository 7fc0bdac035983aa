import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

function runExample (name: string, env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const file = fileURLToPath(new URL(`../examples/${name}`, import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('the quickstart stores every event in the reference server and reports it', async () => {
  const { code, stdout, stderr } = await runExample('quickstart.ts', { QUICKSTART_EVENTS: '5000' })
  assert.equal(code, 0, stderr)
  assert.match(stdout, /flush: 5000 written, 0 dead-lettered, 0 dropped, 0 lost/)
  assert.match(stdout, /stored under quickstart-[0-9a-f-]+: 5000 of 5000 events/)
  assert.match(stdout, /throughput: \d+ events\/s/)
})
