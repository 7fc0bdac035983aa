/**
 * Runs the seed's scenario for real: 87 specs in 12 files that node's runner
 * executes as 12 concurrent processes, each with its own store, against one
 * shared reference server started here (a global setup) and passed through
 * the environment. The companion run breaks flush the way the seed did,
 * with a store subclass built in test code (see parallel-flush/harness.ts), and the specs must fail.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'

const dir = fileURLToPath(new URL('./parallel-flush/', import.meta.url))
const specs = readdirSync(dir).filter((f) => f.endsWith('.spec.ts')).sort().map((f) => dir + f)

function withoutTestContext (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _context, ...rest } = env
  return rest
}

function runSuite (url: string, env: Record<string, string> = {}): Promise<{ pass: number, fail: number, wallMs: number, output: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=12', '--test-reporter=tap', ...specs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Without NODE_TEST_CONTEXT the child is a test runner of its own, not a subtest stream of ours.
      env: { ...withoutTestContext(process.env), AUDIT_DATASTORAGE_URL: url, ...env }
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    child.on('error', reject)
    child.on('exit', () => {
      const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN)
      resolve({ pass: count('pass'), fail: count('fail'), wallMs: Date.now() - started, output })
    })
  })
}

let server: DataStorageServer
before(async () => { server = await startDataStorageServer({ logger: silentLogger }) })
after(async () => { await server?.close() })

test('the suite has 87 specs in 12 files', () => {
  assert.equal(specs.length, 12)
  // Each file defines one spec per entry of its defineSpecs(file, eventCounts) call, numbered as the file is.
  let total = 0
  for (const [i, spec] of specs.entries()) {
    const calls = [...readFileSync(spec, 'utf8').matchAll(/defineSpecs\((\d+), \[([\d,\s]*)\]\)/g)]
    assert.equal(calls.length, 1, `${spec}: one defineSpecs(file, [event counts]) call`)
    const [, file, counts] = calls[0]!
    assert.equal(Number(file), i + 1, `${spec}: the file number`)
    const eventCounts = counts!.split(',').map((c) => c.trim()).filter((c) => c !== '').map(Number)
    assert.ok(eventCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 100), `${spec}: each spec records 1 to 100 events (one query page), got ${counts}`)
    total += eventCounts.length
  }
  assert.equal(total, 87, 'specs in all files')
})

test('87 specs in 12 parallel processes, each with its own store, all find their events after flush', async (t) => {
  const { pass, fail, wallMs, output } = await runSuite(server.url)
  t.diagnostic(`parallel-flush: ${pass} passed, ${fail} failed in ${wallMs} ms`)
  assert.equal(fail, 0, output.split('\n').filter((l) => l.includes('not ok') || l.includes('error')).slice(0, 20).join('\n'))
  assert.equal(pass, 87)
})

test('the same suite fails against a flush with the seed\'s bug', async (t) => {
  const { pass, fail } = await runSuite(server.url, { PARALLEL_FLUSH_SEAM: 'seed-bug' })
  t.diagnostic(`parallel-flush with the seed's bug: ${pass} passed, ${fail} failed`)
  assert.equal(pass + fail, 87)
  // Every spec records fewer events than a batch and only the flush may deliver them: all 87 catch it.
  assert.equal(fail, 87, `only ${fail} of 87 specs caught the broken flush`)
})
