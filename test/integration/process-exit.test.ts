import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(new URL('../fixtures/exit-idle.ts', import.meta.url))

function run (mode: string): Promise<{ code: number | null, stdout: string, ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(killer)
      resolve({ code, stdout, ms: Date.now() - started })
    })
  })
}

for (const mode of ['idle', 'flushed', 'closed']) {
  test(`a process whose only live object is a ${mode} store exits on its own`, async () => {
    const { code, ms } = await run(mode)
    assert.equal(code, 0, 'killed after 20 s means something held the event loop open')
    assert.ok(ms < 20_000)
  })
}

test('a closed store reports its final stats before the process exits', async () => {
  const { code, stdout } = await run('closed')
  assert.equal(code, 0)
  assert.equal((JSON.parse(stdout) as { written: number }).written, 1)
})

test('an awaited flush keeps the process alive through a retry sleep', async () => {
  const { code, stdout } = await run('flush-waits-for-retry')
  assert.equal(code, 0)
  assert.deepEqual(JSON.parse(stdout), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
})
