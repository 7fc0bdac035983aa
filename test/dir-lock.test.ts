import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { acquireLock, isAlive, lockHolder, TAKEOVER_STALE_MS } from '../lib/dir-lock.js'

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dir-lock-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

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
    const racer = fork(join(import.meta.dirname, 'helpers', 'lock-racer.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
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
    while (replies.some((r) => r.length <= round)) await new Promise((resolve) => setTimeout(resolve, 10))
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
