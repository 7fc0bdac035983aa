import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { lutimesSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { join } from 'node:path'
import { acquireLock, isAlive, lockHolder, TAKEOVER_STALE_MS } from '../../lib/files/dir-lock.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

const refuse = (holder: { pid: number } | undefined): Error => new Error(`held by ${holder?.pid ?? 'unknown'}`)

// A pid that ran and no longer does.
async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'])
  await new Promise((resolve) => child.on('exit', resolve))
  return child.pid!
}

function startTime (pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

test('of several processes racing for one stale lock, exactly one takes it', { timeout: 120_000 }, async (t) => {
  const racers: ChildProcess[] = []
  t.after(() => { for (const racer of racers) racer.kill() })
  const replies: Array<Array<{ got: boolean }>> = []
  for (let i = 0; i < 6; i++) {
    const racer = fork(join(import.meta.dirname, '..', 'helpers', 'lock-racer.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    racers.push(racer)
    replies.push([])
    racer.on('message', (m: { got?: boolean }) => { if (m.got !== undefined) replies[i]!.push({ got: m.got }) })
    await new Promise<void>((resolve) => racer.once('message', () => resolve()))
  }
  const stale = await deadPid()
  for (let round = 0; round < 8; round++) {
    const dir = tempDir(t)
    writeFileSync(join(dir, 'lock'), `${stale} left-by-a-killed-store -\n`)
    const at = Date.now() + 150
    for (const racer of racers) racer.send({ dir, at })
    await waitFor(() => replies.every((r) => r.length > round), { what: `every racer's answer in round ${round}`, detail: () => replies.map((r) => r.length).join(', ') })
    const winners = replies.filter((r) => r[round]!.got).length
    assert.equal(winners, 1, `round ${round}: ${winners} processes took the lock`)
    assert.deepEqual(readdirSync(dir).sort(), ['lock'], `round ${round}: only the lock is left`)
  }
  for (const racer of racers) racer.send({ exit: true })
})

test('a lock holding this process\'s pid that this process does not hold is stale (pid 1 again, in a restarted container)', (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'lock'), `${process.pid} an-earlier-life ${startTime(process.pid)}\n`)
  const release = acquireLock(dir, 'lock', refuse)
  assert.equal(lockHolder(join(dir, 'lock'))?.pid, process.pid)
  assert.throws(() => acquireLock(dir, 'lock', refuse), /held by/, 'held by this process now: a second taker is refused')
  release()
  assert.deepEqual(readdirSync(dir), [])
})

test('a lock whose pid now runs under another start time is stale; with its own start time it is refused', (t) => {
  const dir = tempDir(t)
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
  t.after(() => other.kill())
  const pid = other.pid!
  writeFileSync(join(dir, 'lock'), `${pid} token ${startTime(pid)}\n`)
  assert.equal(isAlive(lockHolder(join(dir, 'lock'))!), true)
  assert.throws(() => acquireLock(dir, 'lock', refuse), new RegExp(`held by ${pid}`))
  writeFileSync(join(dir, 'lock'), `${pid} token 1\n`)
  const release = acquireLock(dir, 'lock', refuse)
  release()
  // An older lock without a start time: a running pid is taken for the owner.
  writeFileSync(join(dir, 'lock'), `${pid} token\n`)
  assert.throws(() => acquireLock(dir, 'lock', refuse), new RegExp(`held by ${pid}`))
})

test('an empty or garbled lock is stale, and a takeover file left by a dead taker is removed once old', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'lock'), '')
  acquireLock(dir, 'lock', refuse)()
  writeFileSync(join(dir, 'lock'), 'not a pid\n')
  writeFileSync(join(dir, 'lock.takeover'), `${await deadPid()} x -\n`)
  const old = (Date.now() - TAKEOVER_STALE_MS - 5_000) / 1000
  utimesSync(join(dir, 'lock.takeover'), old, old)
  acquireLock(dir, 'lock', refuse)()
  assert.deepEqual(readdirSync(dir), [])
})

test('a takeover under way makes a second taker wait, then refuse, never share', (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'lock'), 'garbled\n')
  writeFileSync(join(dir, 'lock.takeover'), `${process.pid} someone-else -\n`)
  assert.throws(() => acquireLock(dir, 'lock', refuse), /held by unknown/)
  assert.deepEqual(readdirSync(dir).sort(), ['lock', 'lock.takeover'], 'nothing of the refused taker is left')
})

test('a worker thread and the main thread of one process never share a lock', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const tryInWorker = async (): Promise<{ worker: Worker, got: boolean }> => {
    // tsx's hooks are registered in the worker by hand: Node 20 does not run --import there.
    const entry = JSON.stringify(new URL('../helpers/lock-worker.ts', import.meta.url).href)
    const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}) })`, { eval: true, workerData: { dir } })
    t.after(() => worker.terminate())
    const reply = await new Promise<{ got: boolean }>((resolve) => worker.once('message', resolve))
    return { worker, got: reply.got }
  }
  const release = acquireLock(dir, 'lock', refuse)
  assert.equal((await tryInWorker()).got, false, 'the main thread holds it')
  release()
  const { worker, got } = await tryInWorker()
  assert.equal(got, true)
  assert.throws(() => acquireLock(dir, 'lock', refuse), new RegExp(`held by ${process.pid}`), 'a worker holds it')
  worker.postMessage('release')
  await new Promise((resolve) => worker.once('message', resolve))
  acquireLock(dir, 'lock', refuse)()
})

test('a FIFO, a directory or a symlink in place of the lock is an error, never waited on or followed', (t) => {
  const dir = tempDir(t)
  execFileSync('mkfifo', [join(dir, 'lock')])
  assert.throws(() => acquireLock(dir, 'lock', refuse), (err: NodeJS.ErrnoException) => err.code === 'EINVAL')
  rmSync(join(dir, 'lock'))
  writeFileSync(join(dir, 'elsewhere'), `${process.ppid} not-a-lock -\n`)
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'lock'))
  assert.throws(() => acquireLock(dir, 'lock', refuse), (err: NodeJS.ErrnoException) => err.code === 'ELOOP')
})

test('a takeover file dated far in the past or in the future, or a dangling symlink in its place, is broken rather than waited on for good', (t) => {
  for (const variant of ['past', 'future', 'dangling symlink'] as const) {
    const dir = tempDir(t)
    writeFileSync(join(dir, 'lock'), 'garbled\n')
    const takeover = join(dir, 'lock.takeover')
    const when = (Date.now() + (variant === 'future' ? 1 : -1) * (TAKEOVER_STALE_MS + 60_000)) / 1000
    if (variant === 'dangling symlink') {
      symlinkSync(join(dir, 'nowhere'), takeover)
      lutimesSync(takeover, when, when)
    } else {
      writeFileSync(takeover, 'x\n')
      utimesSync(takeover, when, when)
    }
    acquireLock(dir, 'lock', refuse)()
    assert.deepEqual(readdirSync(dir), [], variant)
  }
})
