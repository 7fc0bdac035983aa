import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { InvalidOptionError, MemorySink, createAuditStore, installShutdownHandler } from '../../lib/index.js'
import { startFaultServer, created, type FaultServer } from '../helpers/fault-server.js'
import { silentLogger } from '../helpers/fixtures.js'

const fixture = fileURLToPath(new URL('../fixtures/shutdown-child.ts', import.meta.url))

interface Started {
  child: ChildProcess
  ready: Promise<void>
  /** Resolves once the child's log holds `text`. */
  logged: (text: string) => Promise<void>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>
}

function start (url: string, count: number, mode: string): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, url, String(count), mode], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() }))
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  const logged = (text: string): Promise<void> => new Promise((resolve, reject) => {
    const check = (): void => {
      if (!stderr.includes(text)) return
      child.stderr!.off('data', check)
      resolve()
    }
    child.stderr!.on('data', check)
    void exited.then(() => reject(new Error(`the child exited without logging ${JSON.stringify(text)}: ${stderr}`)))
    check()
  })
  return { child, ready, logged, exited }
}

const storedCount = (server: FaultServer): number => server.requests.filter((r) => Array.isArray(r.body)).flatMap((r) => r.body as unknown[]).length

test('SIGTERM delivers every pending event, then exits 0', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { child, ready, exited } = await Promise.resolve(start(server.url, 250, 'wait'))
  await ready
  assert.equal(storedCount(server), 0, 'nothing was sent before the signal (flushIntervalMs is a minute)')
  child.kill('SIGTERM')
  const { code, stderr } = await exited
  assert.equal(code, 0, stderr)
  assert.equal(storedCount(server), 250)
  assert.match(stderr, /"msg":"shutdown finished"/)
})

test('SIGINT works the same way', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { child, ready, exited } = start(server.url, 10, 'wait')
  await ready
  child.kill('SIGINT')
  assert.equal((await exited).code, 0)
  assert.equal(storedCount(server), 10)
})

test('when the service cannot be reached in time, unsent events are dead-lettered and the exit code is 1', async (t) => {
  const server = await startFaultServer(() => {}) // never answers
  t.after(() => server.close())
  const { child, ready, exited } = start(server.url, 20, 'hang')
  await ready
  const started = Date.now()
  child.kill('SIGTERM')
  const { code, stderr } = await exited
  assert.equal(code, 1)
  assert.match(stderr, /dead-lettered=20/)
  assert.ok(Date.now() - started < 5_000)
})

test('a second signal exits at once with 1, logging what was pending', async (t) => {
  const server = await startFaultServer(() => {})
  t.after(() => server.close())
  const { child, ready, logged, exited } = start(server.url, 5, 'wait')
  await ready
  child.kill('SIGTERM')
  // The second signal only once the first is being handled: two signals sent together may arrive as one.
  await logged('"msg":"shutdown started"')
  child.kill('SIGTERM')
  const { code, stderr } = await exited
  assert.equal(code, 1)
  assert.match(stderr, /second signal: exiting without waiting/)
  assert.match(stderr, /"pending":5/)
})

test('a script that never flushes still delivers on beforeExit', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { exited } = start(server.url, 30, 'forget')
  const { code, stderr } = await exited
  assert.equal(code, 0, stderr)
  assert.equal(storedCount(server), 30)
})

test('the returned function removes the handlers, so the signal is fatal again', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { child, ready, exited } = start(server.url, 3, 'uninstalled')
  await ready
  child.kill('SIGTERM')
  const { signal } = await exited
  assert.equal(signal, 'SIGTERM')
  assert.equal(storedCount(server), 0)
})

test('with exit false it closes the stores and sets process.exitCode', async () => {
  const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
  const uninstall = installShutdownHandler(store, { exit: false, signals: ['SIGUSR2'], logger: silentLogger })
  const before = process.exitCode
  const closed = new Promise((resolve) => store.once('close', resolve))
  const keepAlive = setTimeout(() => {}, 10_000) // signal handlers do not hold the loop open
  process.kill(process.pid, 'SIGUSR2')
  await closed
  await new Promise((resolve) => setImmediate(resolve))
  clearTimeout(keepAlive)
  assert.equal(process.exitCode, 0)
  process.exitCode = before
  uninstall()
})

test('rejects what is not a store and bad options', () => {
  assert.throws(() => installShutdownHandler([] as never), InvalidOptionError)
  assert.throws(() => installShutdownHandler({} as never), InvalidOptionError)
  const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
  assert.throws(() => installShutdownHandler(store, { signals: [] }), /`signals`/)
  assert.throws(() => installShutdownHandler(store, { timeoutMs: 0 }), /`timeoutMs`/)
  store.destroy()
})
