import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { AuditLossError, AuditStore, InvalidOptionError, SpoolError, type AuditStoreOptions, type BatchSink, type DropEventInfo, type SpoolOptions } from '../../lib/index.js'
import { kSpoolFiles, nodeSpoolFiles, type SpoolFile, type SpoolFiles } from '../../lib/spool/spool-files.js'
import { encodeBatch, encodeRun } from '../../lib/spool/record-format.js'
import { segmentName } from '../../lib/spool/segment-name.js'
import { readFloor as readCheckpoint } from '../../lib/spool/floor.js'
import { captureLogger, makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

/** A sink that stores every batch within the call; `held` keeps sends pending. */
function recordingSink (): ScriptedSink {
  return new ScriptedSink([], { delayMs: 0 })
}

/** Every batch the sink stored, with its id and its events' seqs. */
function batchesOf (sink: ScriptedSink): Array<{ id: string, seqs: number[] }> {
  return sink.storedBatches.map((batch) => ({ id: batch.id, seqs: batch.events.map((e) => (JSON.parse(e) as { event_data: { seq: number } }).event_data.seq) }))
}

function store (sink: BatchSink, spool: SpoolOptions, extra: Partial<AuditStoreOptions> & { files?: SpoolFiles } = {}): AuditStore {
  const { files, ...rest } = extra
  return new AuditStore({ sink, logger: silentLogger, batchSize: 4, flushIntervalMs: 5, spool, ...rest, ...(files === undefined ? {} : { [kSpoolFiles]: files }) } as AuditStoreOptions)
}

// Twelve events spooled one by one over segments of 1000 bytes, none delivered, then a destroy (a crash).
async function destroyedWithTwelve (dir: string): Promise<void> {
  const first = recordingSink()
  first.held = true
  const a = store(first, { dir, segmentBytes: 1000 })
  for (let i = 0; i < 12; i++) {
    a.record(makeEvent(i))
    await a.persisted()
  }
  a.destroy()
  first.held = false
}

type Op = 'create' | 'writev' | 'datasync' | 'sync' | 'close' | 'writeSynced' | 'rename' | 'unlink' | 'syncDir'

/**
 * Settles once the file layer froze (an operation was asked for after `freezeAfter`) and no operation
 * started before is still running: from then on nothing more reaches the disk, so whatever waits on it
 * settles within the turn under way or never.
 */
interface Quiet { readonly promise: Promise<void>, resolve: () => void }

function quiet (): Quiet {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

/** The real file layer, logging each operation; after `freezeAfter` operations every later one never completes (the process is gone), and `frozen` settles once nothing runs any more. */
function tracedFiles (log: string[], freezeAfter = Infinity, fault?: (op: Op) => Error | undefined, opened: SpoolFile[] = [], frozen: Quiet = quiet()): SpoolFiles {
  let count = 0
  let running = 0
  let freezing = false
  const settleIfQuiet = (): void => { if (freezing && running === 0) frozen.resolve() }
  const step = async <T>(op: Op, name: string, run: () => Promise<T>): Promise<T> => {
    if (count >= freezeAfter) {
      freezing = true
      settleIfQuiet()
      return new Promise<T>(() => {})
    }
    const err = fault?.(op)
    if (err !== undefined) throw err
    count++
    running++
    try {
      const result = await run()
      log.push(`${op} ${name}`)
      return result
    } finally {
      running--
      settleIfQuiet()
    }
  }
  const base = (p: string): string => p.split('/').at(-1)!
  return {
    async create (path) {
      const file = await step('create', base(path), () => nodeSpoolFiles.create(path))
      opened.push(file)
      const traced: SpoolFile = {
        writev: (b) => step('writev', base(path), () => file.writev(b)),
        datasync: () => step('datasync', base(path), () => file.datasync()),
        sync: () => step('sync', base(path), () => file.sync()),
        close: () => step('close', base(path), () => file.close())
      }
      return traced
    },
    writeSynced: (path, data) => step('writeSynced', base(path), () => nodeSpoolFiles.writeSynced(path, data)),
    rename: (from, to) => step('rename', `${base(from)}>${base(to)}`, () => nodeSpoolFiles.rename(from, to)),
    unlink: (path) => step('unlink', base(path), () => nodeSpoolFiles.unlink(path)),
    syncDir: (dir) => step('syncDir', 'dir', () => nodeSpoolFiles.syncDir(dir))
  }
}

// How a promise settled, once it has.
function settles (promise: Promise<unknown>): { outcome: 'resolved' | 'rejected' | undefined } {
  const state: { outcome: 'resolved' | 'rejected' | undefined } = { outcome: undefined }
  promise.then(() => { state.outcome = 'resolved' }, () => { state.outcome = 'rejected' })
  return state
}

// The scenario of the order-of-operations tests: rounds of records, persisted, delivery and checkpoints.
// An event is acknowledged when persisted() resolved; once the file layer is `frozen`, what has not
// resolved by the next turn never will, and the rounds go on without waiting.
async function scenario (s: AuditStore, acked: Set<number>, log: readonly string[], frozen: Promise<void>): Promise<void> {
  const halted = { now: false }
  void frozen.then(() => nextTurn()).then(() => { halted.now = true })
  const checkpoints = (): number => log.filter((l) => l.startsWith('rename checkpoint')).length
  let seq = 0
  for (let round = 0; round < 4; round++) {
    const before = checkpoints()
    const mine: number[] = []
    for (let i = 0; i < 3; i++) {
      if (s.record(makeEvent(seq))) mine.push(seq)
      seq++
    }
    const persisted = settles(s.persisted())
    await waitFor(() => persisted.outcome !== undefined || halted.now, { what: `persisted() of round ${round} to settle` })
    if (persisted.outcome === 'resolved') for (const n of mine) acked.add(n)
    const flushed = settles(s.flush())
    await waitFor(() => flushed.outcome !== undefined || halted.now, { what: `flush() of round ${round} to settle` })
    // The round's delivered events checkpointed before the next round, so that every round's
    // operations include a checkpoint's.
    await waitFor(() => checkpoints() > before || halted.now, { what: `a checkpoint in round ${round}`, detail: () => log.join(', ') })
  }
}

test('a roll-over syncs the full segment and the directory before writing to the next one (os)', async (t) => {
  const dir = tempDir(t)
  const log: string[] = []
  const s = store(recordingSink(), { dir, durability: 'os', segmentBytes: 100, checkpointIntervalMs: 60_000 }, { files: tracedFiles(log) })
  s.record(makeEvent(0))
  await s.persisted()
  s.record(makeEvent(1))
  await s.persisted()
  const i = log.indexOf('create segment-0000000001.log')
  assert.ok(i > 0, log.join('\n'))
  assert.deepEqual(log.slice(i - 2, i + 3), [
    'datasync segment-0000000000.log', 'close segment-0000000000.log', 'create segment-0000000001.log', 'syncDir dir', 'writev segment-0000000001.log'
  ])
  await s.close()
})

test('a checkpoint is written, renamed and its directory synced before any segment is unlinked', async (t) => {
  const dir = tempDir(t)
  const log: string[] = []
  const s = store(recordingSink(), { dir, segmentBytes: 100, checkpointIntervalMs: 5 }, { files: tracedFiles(log) })
  for (let i = 0; i < 8; i++) {
    s.record(makeEvent(i))
    await s.persisted()
  }
  await s.flush()
  await waitFor(() => log.some((l) => l.startsWith('unlink segment')), { what: 'a segment unlinked', detail: () => log.join(', ') })
  const unlink = log.findIndex((l) => l.startsWith('unlink segment'))
  assert.deepEqual(log.slice(unlink - 3, unlink), ['writeSynced checkpoint.tmp', 'rename checkpoint.tmp>checkpoint', 'syncDir dir'])
  await s.close()
  assert.deepEqual(readdirSync(dir), [], 'a clean close leaves an empty directory')
})

test('a crash right after any file operation loses no acknowledged event and resends a batch only with its id', async (t) => {
  // Count the operations of an uncrashed run, then crash after each one in turn.
  const full: string[] = []
  {
    const dir = tempDir(t)
    const acked = new Set<number>()
    const s = store(recordingSink(), { dir, durability: 'os', segmentBytes: 300, checkpointIntervalMs: 10 }, { files: tracedFiles(full) })
    await scenario(s, acked, full, new Promise(() => {}))
    await s.close()
    assert.equal(acked.size, 12, 'without a crash every event is acknowledged')
  }
  assert.ok(full.length > 10, `${full.length} operations`)
  let ackedAcrossCrashes = 0
  for (let k = 1; k <= full.length; k++) {
    const dir = tempDir(t)
    const log: string[] = []
    const first = recordingSink()
    const acked = new Set<number>()
    const opened: SpoolFile[] = []
    const frozen = quiet()
    const a = store(first, { dir, durability: 'os', segmentBytes: 300, checkpointIntervalMs: 10 }, { files: tracedFiles(log, k, undefined, opened, frozen) })
    await scenario(a, acked, log, frozen.promise)
    ackedAcrossCrashes += acked.size
    // The process dies: nothing more reaches the disk, and its lock is stale.
    a.destroy()
    for (const file of opened) await file.close().catch(() => {})
    rmSync(join(dir, 'lock'), { force: true })
    const second = recordingSink()
    const b = store(second, { dir, durability: 'os', segmentBytes: 300 })
    await b.close()
    const byEvent = new Map<number, string>()
    for (const { id, seqs } of [...batchesOf(first), ...batchesOf(second)]) {
      for (const n of seqs) {
        const before = byEvent.get(n)
        assert.ok(before === undefined || before === id, `crash after op ${k} (${log.at(-1)}): event ${n} stored in batches ${before} and ${id}`)
        byEvent.set(n, id)
      }
    }
    for (const n of acked) assert.ok(byEvent.has(n), `crash after op ${k} (${log.at(-1)}): acknowledged event ${n} lost`)
  }
  assert.ok(ackedAcrossCrashes > 0, 'some crash points came after acknowledged events')
})

for (const code of ['ENOSPC', 'EIO'] as const) {
  test(`a disk error (${code}) fails persisted() with SpoolError, makes the store not ready, and delivery goes on from memory`, async (t) => {
    const dir = tempDir(t)
    const { logger, lines } = captureLogger('error')
    const sink = recordingSink()
    const fault = (op: Op): Error | undefined => (op === 'writev' || op === 'datasync') ? Object.assign(new Error(`${code}: injected`), { code }) : undefined
    const s = store(sink, { dir, durability: 'os' }, { files: tracedFiles([], Infinity, fault), logger })
    let errors = 0
    s.on('error', () => { errors++ })
    s.record(makeEvent(0))
    await assert.rejects(s.persisted(), (err: unknown) => err instanceof SpoolError && (err.cause as NodeJS.ErrnoException).code === code)
    s.record(makeEvent(1))
    await assert.rejects(s.persisted(), SpoolError)
    assert.ok(s.health().reasons.includes('the spool is not writable (delivering from memory only)'), s.health().reasons.join('; '))
    assert.deepEqual(await s.flush(), { written: 2, deadLettered: 0, dropped: 0, lost: 0 })
    await s.close()
    assert.equal(errors, 0)
    assert.ok(lines.some((l) => l.includes('spool failed')), lines.join('\n'))
  })
}

test('a second store on the same directory is refused with the pid that holds it', async (t) => {
  const dir = tempDir(t)
  const a = store(recordingSink(), { dir })
  assert.throws(() => store(recordingSink(), { dir }), (err: unknown) =>
    err instanceof InvalidOptionError && err.option === 'spool.dir' && err.message.includes(`pid ${process.pid}`))
  await a.close()
})

test('a lock left by a killed process is taken over and its spool replayed', async (t) => {
  const dir = tempDir(t)
  const child = fork(join(import.meta.dirname, '..', 'integration', 'spool-crash', 'child.ts'), [dir, 'http://127.0.0.1:9', 'x', 'process', '65536'], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'ignore', 'ipc']
  })
  await new Promise<void>((resolve) => child.on('message', (m: { acked?: number }) => { if ((m.acked ?? 0) > 0) resolve() }))
  child.kill('SIGKILL')
  await new Promise((resolve) => child.on('exit', resolve))
  assert.equal(Number.parseInt(readFileSync(join(dir, 'lock'), 'utf8'), 10), child.pid)
  const sink = recordingSink()
  const s = store(sink, { dir })
  assert.ok(s.stats().recovered > 0, 'events recovered')
  await s.close()
  assert.ok(batchesOf(sink).length > 0, 'batches stored')
})

test('a corrupt byte in the middle of a segment cuts that segment there, counts it, and later segments still replay', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t)
  await destroyedWithTwelve(dir)
  rmSync(join(dir, 'lock'))
  const segments = readdirSync(dir).filter((n) => n.startsWith('segment-')).sort()
  assert.ok(segments.length >= 3, `${segments.length} segments`)
  const path = join(dir, segments[0]!)
  const bytes = readFileSync(path)
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff
  writeFileSync(path, bytes)
  const { logger, lines } = captureLogger('error')
  const second = recordingSink()
  const b = store(second, { dir, segmentBytes: 1000 }, { logger })
  const { spoolCorrupt, recovered } = b.stats()
  assert.ok(spoolCorrupt.bytes > 0 && spoolCorrupt.bytes < bytes.length, `corrupt ${spoolCorrupt.bytes} of ${bytes.length}`)
  assert.ok(recovered > 0 && recovered < 12, `recovered ${recovered}`)
  assert.ok(lines.some((l) => l.includes('spool corrupt') && l.includes('"bytes"')), lines.join('\n'))
  await b.close().catch(() => {})
  const replayed = batchesOf(second).flatMap((x) => x.seqs)
  assert.ok(replayed.includes(11), 'the last segment is replayed')
})

test('at maxBytes record() drops with reason spool-full and write() asks the producer to wait', async (t) => {
  const dir = tempDir(t)
  const sink = recordingSink()
  sink.held = true
  const s = store(sink, { dir, maxBytes: 1000, segmentBytes: 300 })
  const drops: DropEventInfo[] = []
  s.on('drop', (d: DropEventInfo) => drops.push(d))
  let accepted = 0
  for (let i = 0; i < 50 && s.record(makeEvent(i)); i++) {
    accepted++
    await s.persisted()
  }
  assert.ok(accepted > 0 && accepted < 50, `accepted ${accepted}`)
  assert.equal(drops.at(-1)?.reason, 'spool-full')
  assert.equal(s.write(makeEvent(99)), false)
  sink.held = false
  await new Promise((resolve) => s.once('drain', resolve))
  await s.close().catch(() => {})
})

test('persisted() without a spool rejects with SpoolError', async () => {
  const s = new AuditStore({ sink: recordingSink(), logger: silentLogger })
  await assert.rejects(s.persisted(), SpoolError)
  await s.close()
})

test('a checkpoint queued behind a write before the store is destroyed leaves the unsettled events for the next store', async (t) => {
  const dir = tempDir(t)
  // The first writev waits until released, so checkpoint ticks queue up behind it on the writer.
  let release!: () => void
  const blocked = new Promise<void>((resolve) => { release = resolve })
  let writing = false
  const files: SpoolFiles = {
    ...nodeSpoolFiles,
    async create (path) {
      const file = await nodeSpoolFiles.create(path)
      return { writev: async (b) => { writing = true; await blocked; await file.writev(b) }, datasync: () => file.datasync(), sync: () => file.sync(), close: () => file.close() }
    }
  }
  const first = recordingSink()
  first.held = true
  const a = store(first, { dir, checkpointIntervalMs: 1 }, { files, batchSize: 1000, flushIntervalMs: 60_000 })
  for (let i = 0; i < 10; i++) a.record(makeEvent(i))
  await waitFor(() => writing, { what: 'the first writev to start' })
  // Timers fire in order of expiry: by the end of this 5 ms one, the 1 ms checkpoint timer has ticked behind the write.
  await sleep(5)
  // destroy() counts the ten lost in this store's ledger, whose floor passes them: the spool must not checkpoint that.
  a.destroy()
  release()
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
  const second = recordingSink()
  const b = store(second, { dir })
  assert.equal(b.stats().recovered, 10)
  assert.deepEqual(await b.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  await b.close()
  assert.deepEqual(batchesOf(second).flatMap((s) => s.seqs).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
})

test('a segment that cannot be read back during replay counts only its own events lost; those replayed before it are delivered', async (t) => {
  const dir = tempDir(t)
  await destroyedWithTwelve(dir)
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
  const segments = readdirSync(dir).filter((n) => n.startsWith('segment-')).sort()
  assert.ok(segments.length >= 3, `${segments.length} segments`)
  const second = recordingSink()
  const b = store(second, { dir, segmentBytes: 1000 })
  assert.equal(b.stats().recovered, 12)
  // Replay reads a segment only when it gets to it: the last one is gone by then.
  rmSync(join(dir, segments.at(-1)!))
  const err = await b.flush().then(() => assert.fail('flush resolved'), (e: { result?: { written: number, lost: number } }) => e)
  const { written, lost } = err.result!
  assert.ok(written > 0 && lost > 0 && written + lost === 12, `written ${written}, lost ${lost}`)
  await b.close().catch(() => {})
  assert.deepEqual(batchesOf(second).flatMap((s) => s.seqs).sort((x, y) => x - y), Array.from({ length: written }, (_, i) => i))
  assert.equal(b.stats().lost, lost)
})

test('a store destroyed while its spool creates a segment closes that segment once the writer stops', async (t) => {
  const dir = tempDir(t)
  let release!: () => void
  const blocked = new Promise<void>((resolve) => { release = resolve })
  const files: Array<{ closed: boolean }> = []
  let creating = false
  const seam: SpoolFiles = {
    ...nodeSpoolFiles,
    async create (path) {
      creating = true
      await blocked
      const file = await nodeSpoolFiles.create(path)
      const state = { closed: false }
      files.push(state)
      return { writev: (b) => file.writev(b), datasync: () => file.datasync(), sync: () => file.sync(), close: async () => { state.closed = true; await file.close() } }
    }
  }
  const a = store(recordingSink(), { dir, durability: 'os' }, { files: seam })
  a.record(makeEvent(0))
  await waitFor(() => creating, { what: 'the spool to start creating its first segment' })
  a.destroy()
  release()
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
  assert.equal(files.length, 1)
  assert.deepEqual(files, [{ closed: true }])
})

test('a segment holding only batch cuts stays until replay has read it, even once a checkpoint covers every seq it names', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  // Segment 0: 20 000 uncut events; segment 1: only the cut of the first 50.
  const total = 20_000
  const frames: Buffer[] = []
  for (let first = 0; first < total; first += 1000) {
    const events = Array.from({ length: 1000 }, (_, i) => JSON.stringify(makeEvent(first + i)))
    frames.push(encodeRun(first, events, events.map((e) => Buffer.byteLength(e))))
  }
  writeFileSync(join(dir, segmentName(0)), Buffer.concat(frames))
  const cutId = '00000000-0000-4000-8000-000000000001'
  writeFileSync(join(dir, segmentName(1)), encodeBatch(cutId, [0, 49]))
  // Delivers the resent cut, then holds the next batch until a checkpoint covers the cut: replay
  // is held back by backpressure meanwhile, still in segment 0.
  const sink = new ScriptedSink([], {
    delayMs: 0,
    fallback: async (batch) => {
      if (batch.id !== cutId) await waitFor(() => (readCheckpoint(dir) ?? 0) >= 50, { what: 'a checkpoint covering the cut of the first 50 seqs' })
      return 'ok' as const
    }
  })
  const b = store(sink, { dir, checkpointIntervalMs: 5 }, { batchSize: 50 })
  assert.equal(b.stats().recovered, total)
  const result = await b.flush()
  assert.equal(result.written, total)
  assert.deepEqual(batchesOf(sink)[0], { id: cutId, seqs: Array.from({ length: 50 }, (_, i) => i) })
  await b.close()
  assert.equal(batchesOf(sink).flatMap((s) => s.seqs).length, total)
})

test('a spool whose current segment alone reaches maxBytes frees it once its events are delivered', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const sink = recordingSink()
  sink.held = true
  const s = store(sink, { dir, maxBytes: 2000, segmentBytes: 1 << 20, checkpointIntervalMs: 5 })
  let accepted = 0
  while (s.record(makeEvent(accepted))) accepted++
  assert.ok(accepted > 0, 'some events fit')
  assert.equal(s.write(makeEvent(-1)), false, 'write() asks the producer to wait')
  const drained = new Promise((resolve) => s.once('drain', resolve))
  sink.held = false
  await s.flush().catch(() => {}) // the write() above was refused by backpressure, not dropped
  await drained
  assert.equal(s.record(makeEvent(accepted)), true, 'room again once the delivered segment is gone')
  // The record() that found the spool full is counted dropped, so close reports a loss.
  const { stats } = await s.close().then(() => assert.fail('close resolved'), (e: { stats: { written: number, dropped: number } }) => e)
  assert.deepEqual([stats.written, stats.dropped], [accepted + 2, 1])
  assert.deepEqual(readdirSync(dir), [])
})

test('events counted lost stay spooled for the next store: a close that times out during an outage deletes nothing', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const down = recordingSink()
  down.held = true
  const a = store(down, { dir, checkpointIntervalMs: 5 }, { closeTimeoutMs: 100 })
  for (let i = 0; i < 20; i++) a.record(makeEvent(i))
  await a.persisted()
  const err = await a.close().then(() => assert.fail('close resolved'), (e: { stats: { lost: number } }) => e)
  assert.equal(err.stats.lost, 20)
  down.held = false
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
  const up = recordingSink()
  const b = store(up, { dir })
  assert.equal(b.stats().recovered, 20)
  const stats = await b.close()
  assert.equal(stats.written, 20)
  assert.deepEqual(batchesOf(up).flatMap((x) => x.seqs).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i))
  assert.deepEqual(readdirSync(dir), [])
})

test('after a disk error, a clean close still removes the spooled events, so the next store sends nothing twice', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  let full = false
  const fault = (op: Op): Error | undefined => (op === 'writev' && full) ? Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' }) : undefined
  const sink = recordingSink()
  sink.held = true
  const s = store(sink, { dir, segmentBytes: 300 }, { files: tracedFiles([], Infinity, fault) })
  for (let i = 0; i < 3; i++) s.record(makeEvent(i))
  await s.persisted()
  full = true
  // Cut after the failure: these batches' ids are recorded nowhere.
  for (let i = 3; i < 12; i++) s.record(makeEvent(i))
  await assert.rejects(s.persisted(), SpoolError)
  sink.held = false
  assert.equal((await s.close()).written, 12)
  assert.deepEqual(readdirSync(dir), [])
  const again = recordingSink()
  const b = store(again, { dir })
  assert.equal(b.stats().recovered, 0)
  await b.close()
  assert.deepEqual(batchesOf(again), [])
})

test('a spool directory the file system refuses gives InvalidOptionError with the cause, and leaves the sink free for another store', async (t) => {
  const root = tempDir(t)
  const file = join(root, 'a-file')
  writeFileSync(file, '')
  const lockIsDir = join(root, 'lock-is-dir')
  mkdirSync(join(lockIsDir, 'lock'), { recursive: true })
  const segmentIsDir = join(root, 'segment-is-dir')
  mkdirSync(join(segmentIsDir, 'segment-0000000000.log'), { recursive: true })
  const sink = recordingSink()
  for (const [dir, code] of [[file, 'EEXIST'], [join(file, 'below'), 'ENOTDIR'], [lockIsDir, 'EISDIR'], [segmentIsDir, 'EISDIR']] as const) {
    assert.throws(() => store(sink, { dir }), (err: unknown) =>
      err instanceof InvalidOptionError && err.option === 'spool.dir' && (err.cause as NodeJS.ErrnoException).code === code && err.message.includes(code), dir)
  }
  const s = store(sink, { dir: join(root, 'good') })
  s.record(makeEvent(0))
  assert.equal((await s.close()).written, 1)
  assert.equal(readdirSync(lockIsDir).length, 1, 'a refused directory is left as it was')
})

test('persisted() after destroy() rejects with SpoolError: it never hangs and never vouches for events it did not spool', { timeout: 10_000 }, async (t) => {
  for (const waitFirst of [false, true]) {
    const dir = tempDir(t)
    const sink = recordingSink()
    sink.held = true
    const s = store(sink, { dir })
    s.record(makeEvent(1))
    const first = waitFirst ? s.persisted() : undefined
    s.destroy()
    if (first !== undefined) await first.catch(() => {})
    await assert.rejects(s.persisted(), SpoolError)
    await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
    await assert.rejects(s.persisted(), SpoolError, 'still rejects once the writer has stopped')
    sink.held = false
  }
})

test('an event refused at write() stays refused when the caller completes it later: dead-lettered, never delivered unspooled', async (t) => {
  const dir = tempDir(t)
  const sink = recordingSink()
  const dead: unknown[] = []
  const s = store(sink, { dir }, { deadLetter: { write: async (entry) => { dead.push(...entry.events) } } })
  const flushing = s.flush()
  const late = { ...makeEvent(7) } as Record<string, unknown>
  delete late.event_outcome
  s.write(late)
  late.event_outcome = 'success'
  await flushing
  await assert.rejects(s.flush(), /1 dead-lettered/)
  assert.equal(dead.length, 1)
  assert.deepEqual(batchesOf(sink), [])
  assert.equal((await s.close()).deadLettered, 1)
})

test('an invalid stream event counted lost holds nothing back: a clean close empties the spool and no event is sent twice', async (t) => {
  const dir = tempDir(t)
  const sink = recordingSink()
  const s = store(sink, { dir })
  s.write(makeEvent(1))
  s.write({ not: 'an audit event' })
  s.write(makeEvent(2))
  await assert.rejects(s.close(), AuditLossError)
  assert.deepEqual(readdirSync(dir), [], 'nothing is left to replay')
  const again = recordingSink()
  await store(again, { dir }).close()
  assert.deepEqual(batchesOf(again), [])
  assert.deepEqual(batchesOf(sink).flatMap((b) => b.seqs), [1, 2])
})

test('segments past segment-9999999999 are recovered in order, by number rather than by name', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, segmentName(9_999_999_999)), encodeRun(0, [JSON.stringify(makeEvent(0))], [Buffer.byteLength(JSON.stringify(makeEvent(0)))]))
  writeFileSync(join(dir, segmentName(10_000_000_000)), encodeRun(1, [JSON.stringify(makeEvent(1))], [Buffer.byteLength(JSON.stringify(makeEvent(1)))]))
  const sink = recordingSink()
  const s = store(sink, { dir })
  assert.equal(s.stats().recovered, 2)
  s.record(makeEvent(2))
  await s.close()
  assert.deepEqual(batchesOf(sink).flatMap((b) => b.seqs), [0, 1, 2])
  assert.deepEqual(readdirSync(dir), [])
})

test('a symlink in place of a segment or of the checkpoint\'s temp file is never followed', async (t) => {
  const root = tempDir(t)
  const outside = join(root, 'outside.txt')
  writeFileSync(outside, 'not the spool\'s\n')
  const linked = join(root, 'segment-link')
  mkdirSync(linked)
  symlinkSync(outside, join(linked, segmentName(0)))
  assert.throws(() => store(recordingSink(), { dir: linked }), (err: unknown) =>
    err instanceof InvalidOptionError && (err.cause as NodeJS.ErrnoException).code === 'ELOOP')
  const tmpLinked = join(root, 'tmp-link')
  mkdirSync(tmpLinked)
  symlinkSync(outside, join(tmpLinked, 'checkpoint.tmp'))
  const sink = recordingSink()
  let checkpointWrites = 0
  const files: SpoolFiles = {
    ...nodeSpoolFiles,
    writeSynced: (path, data) => nodeSpoolFiles.writeSynced(path, data).finally(() => { if (path.endsWith('checkpoint.tmp')) checkpointWrites++ })
  }
  const s = store(sink, { dir: tmpLinked, checkpointIntervalMs: 1 }, { files })
  for (let i = 0; i < 10; i++) s.record(makeEvent(i))
  await s.flush()
  await waitFor(() => checkpointWrites > 0, { what: 'a checkpoint write over the symlinked temp file' })
  await s.close()
  assert.equal(readFileSync(outside, 'utf8'), 'not the spool\'s\n', 'the file outside the spool is untouched')
  assert.deepEqual(readdirSync(tmpLinked), [])
})

test('a disk error in a checkpoint write or in the directory sync of a new segment leaves nothing behind a clean close', async (t) => {
  const fail = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code })
  const variants: Array<[string, 'process' | 'os', Partial<SpoolFiles>]> = [
    // The temp file is made, then the disk is full.
    ['checkpoint write', 'process', { async writeSynced (path) { writeFileSync(path, ''); throw fail('ENOSPC') } }],
    ['directory sync of a new segment', 'os', { async syncDir () { throw fail('EIO') } }]
  ]
  for (const [what, durability, faults] of variants) {
    const dir = tempDir(t)
    const sink = recordingSink()
    let failed = 0
    const failing: SpoolFiles = { ...nodeSpoolFiles, ...faults }
    const counted: SpoolFiles = {
      ...failing,
      writeSynced: (path, data) => failing.writeSynced(path, data).catch((err: unknown) => { failed++; throw err }),
      syncDir: (dir) => failing.syncDir(dir).catch((err: unknown) => { failed++; throw err })
    }
    const s = store(sink, { dir, durability, checkpointIntervalMs: 1 }, { files: counted })
    for (let i = 0; i < 10; i++) s.record(makeEvent(i))
    await s.persisted().catch(() => {})
    await s.flush()
    await waitFor(() => failed > 0, { what: `the injected failure of the ${what}` })
    assert.equal((await s.close()).written, 10, what)
    assert.deepEqual(readdirSync(dir), [], what)
  }
})

test('memory stays bounded by bufferSize with a spool: when the in-memory stages are full, record() drops (full) though the spool has room', async (t) => {
  const dir = tempDir(t)
  const sink = recordingSink()
  sink.held = true
  const s = store(sink, { dir }, { bufferSize: 10 })
  const drops: DropEventInfo[] = []
  s.on('drop', (d: DropEventInfo) => drops.push(d))
  const taken = Array.from({ length: 25 }, (_, i) => s.record(makeEvent(i))).filter(Boolean).length
  await s.persisted()
  assert.equal(taken, 10)
  assert.deepEqual(new Set(drops.map((d) => d.reason)), new Set(['full']))
  assert.equal(s.stats().spooled.events, 10, 'only accepted events are spooled; none is read back to make room')
  sink.held = false
  await s.close().catch(() => {})
  assert.deepEqual(batchesOf(sink).flatMap((b) => b.seqs), Array.from({ length: 10 }, (_, i) => i))
})

test('an event written by a drop listener during an invalid write is spooled under its own number: it survives a crash before delivery', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t)
  const first = recordingSink()
  first.held = true
  const a = store(first, { dir, checkpointIntervalMs: 5 }, { deadLetter: { write: async () => {} } })
  let once = false
  a.on('drop', (info: DropEventInfo) => {
    if (info.reason !== 'invalid' || once) return
    once = true
    a.write(makeEvent(42), () => {})
  })
  a.write({ not: 'an audit event' })
  await waitFor(() => once && a.stats().accepted === 2, { what: 'the drop listener\'s event accepted' })
  await a.persisted()
  // The invalid event is dead-lettered, and a checkpoint passes it (but not the undelivered event 42).
  await waitFor(() => a.stats().deadLettered === 1 && (readCheckpoint(dir) ?? 0) >= 1, {
    what: 'the invalid event dead-lettered and a checkpoint past it',
    detail: () => `floor ${readCheckpoint(dir)}, ${a.stats().deadLettered} dead-lettered`
  })
  a.destroy()
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the spool lock to be released' })
  first.held = false
  const second = recordingSink()
  const b = store(second, { dir })
  assert.equal(b.stats().recovered, 1)
  await b.close()
  assert.deepEqual(batchesOf(second).flatMap((batch) => batch.seqs), [42])
})
