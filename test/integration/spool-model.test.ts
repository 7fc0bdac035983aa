/**
 * Model test of the spool (fast-check): random sequences of record,
 * persisted, deliver, checkpoint, crash and torn write, checked against a
 * simple model after every run: no acknowledged event is ever lost, and no
 * event is stored under two different batch ids.
 *
 * - record(n): n events; persisted: await persisted(), which acknowledges
 *   every event recorded so far by the live store.
 * - deliver: a flush; batches are cut only by flushes (batchSize and
 *   flushIntervalMs are out of reach), so nothing is sent outside it.
 * - checkpoint: waits past the checkpoint interval.
 * - crash: the store is destroyed (it touches its files no more, like a
 *   kill -9 with the data in the kernel) and a new one opens the directory.
 * - torn write: a crash whose last segment then loses a random tail, cut
 *   only in bytes written after the last acknowledgement (a persisted() or
 *   a delivery): a torn write can only hit a write that was still going on.
 *
 * SPOOL_MODEL_RUNS sets the number of cases (default 60).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { AuditStore } from '../../lib/index.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { waitFor } from '../helpers/wait-for.js'

const RUNS = Number(process.env.SPOOL_MODEL_RUNS ?? 60)
const CHECKPOINT_MS = 10

type Action =
  | { readonly kind: 'record', readonly count: number }
  | { readonly kind: 'persisted' }
  | { readonly kind: 'deliver' }
  | { readonly kind: 'checkpoint' }
  | { readonly kind: 'crash' }
  | { readonly kind: 'torn', readonly at: number }

/** The server, across every store the run opens: which batch ids stored each event. */
function storingSink (stored: Map<number, Set<string>>): ScriptedSink {
  return new ScriptedSink([], {
    delayMs: 0,
    fallback: (batch) => {
      for (const json of batch.events) {
        const seq = (JSON.parse(json) as { event_data: { seq: number } }).event_data.seq
        let ids = stored.get(seq)
        if (ids === undefined) stored.set(seq, ids = new Set())
        ids.add(batch.id)
      }
      return 'ok'
    }
  })
}

function segmentSizes (dir: string): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const name of readdirSync(dir)) if (name.startsWith('segment-')) sizes.set(name, statSync(join(dir, name)).size)
  return sizes
}

async function run (actions: readonly Action[], durability: 'process' | 'os'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-model-'))
  const stored = new Map<number, Set<string>>()
  const open = (): AuditStore => new AuditStore({
    sink: storingSink(stored), logger: silentLogger, batchSize: 10_000, flushIntervalMs: 600_000,
    spool: { dir, durability, segmentBytes: 2_000, checkpointIntervalMs: CHECKPOINT_MS }
  })
  // The model: events acknowledged by persisted(); segment sizes at the last acknowledgement.
  const acked = new Set<number>()
  let ackedSizes = new Map<string, number>()
  let recorded: number[] = []
  let next = 0
  let store = open()
  const crash = async (): Promise<void> => {
    store.destroy()
    // The destroyed store releases its lock once its writer has stopped.
    await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the destroyed store to release the spool lock', intervalMs: 1 })
    recorded = []
  }
  try {
    for (const action of actions) {
      switch (action.kind) {
        case 'record':
          for (let i = 0; i < action.count; i++) {
            if (store.record(makeEvent(next))) recorded.push(next)
            next++
          }
          break
        case 'persisted':
          await store.persisted()
          for (const seq of recorded) acked.add(seq)
          ackedSizes = segmentSizes(dir)
          break
        case 'deliver':
          await store.flush()
          ackedSizes = segmentSizes(dir)
          break
        case 'checkpoint':
          await sleep(CHECKPOINT_MS * 3)
          break
        case 'crash':
          await crash()
          store = open()
          break
        case 'torn': {
          await crash()
          const last = [...segmentSizes(dir)].sort(([a], [b]) => a < b ? -1 : 1).at(-1)
          if (last !== undefined) {
            const [name, size] = last
            const from = ackedSizes.get(name) ?? 0
            if (size > from) truncateSync(join(dir, name), from + Math.floor(action.at * (size - from)))
          }
          store = open()
          break
        }
      }
    }
    await store.flush()
    await store.close()
    assert.deepEqual(readdirSync(dir), [], 'a clean close leaves an empty directory')
    const lost = [...acked].filter((seq) => !stored.has(seq))
    assert.deepEqual(lost, [], `acknowledged events lost: ${lost.length} of ${acked.size}`)
    for (const [seq, ids] of stored) assert.equal(ids.size, 1, `event ${seq} stored under batch ids ${[...ids].join(', ')}`)
  } finally {
    if (!store.destroyed) store.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 40 }).map((count): Action => ({ kind: 'record', count })), weight: 4 },
  { arbitrary: fc.constant<Action>({ kind: 'persisted' }), weight: 2 },
  { arbitrary: fc.constant<Action>({ kind: 'deliver' }), weight: 2 },
  { arbitrary: fc.constant<Action>({ kind: 'checkpoint' }), weight: 1 },
  { arbitrary: fc.constant<Action>({ kind: 'crash' }), weight: 1 },
  { arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((at): Action => ({ kind: 'torn', at })), weight: 1 }
)

for (const durability of ['process', 'os'] as const) {
  test(`no acknowledged event is lost and none is stored under two batch ids across crashes and torn writes (${durability})`, { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 14 }), (actions) => run(actions, durability)), { numRuns: RUNS })
  })
}
