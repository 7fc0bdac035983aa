/**
 * Shared pieces of the scenarios: a sink that acknowledges at once, a silent
 * logger, the discard server and the check of what it received, the result
 * row shape.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { BatchSink, createAuditStore, type AuditEvent, type AuditStoreOptions } from '../../lib/index.js'
import type { Received } from './discard-server.js'
import { yieldToLoop } from './harness.js'

export const silent = pino({ level: 'silent' })

/**
 * A sink that stores nothing and answers at once. Not the test suite's
 * ScriptedSink, which records every attempt and waits a turn of the event
 * loop: a benchmark's sink must add nothing to what it measures.
 */
export class NullSink extends BatchSink {
  sendTimeMs = 0
  protected async sendBatch (): Promise<void> {}
}

export interface Row {
  readonly scenario: string
  readonly contender: string
  readonly unit: string
  readonly median: number
  readonly spread: string
  /** The ratio this row is judged by, against the named baseline. */
  readonly ratio?: { readonly against: string, readonly value: number, readonly target: string, readonly met: boolean }
  readonly note?: string
}

/**
 * The record() hot path of scenarios 1, 3a and 6: `total` events from `pool`
 * recorded into a store on a {@link NullSink}, yielding every 1000, then a
 * flush; every event must be written.
 * @returns events per second, flush included
 */
export async function recordRate (pool: readonly AuditEvent[], total: number, options: Omit<AuditStoreOptions, 'sink'> = {}): Promise<number> {
  const store = createAuditStore({ sink: new NullSink(), logger: silent, ...options })
  const started = performance.now()
  for (let i = 0; i < total; i++) {
    store.record(pool[i % pool.length]!)
    if (i % 1000 === 999) await yieldToLoop()
  }
  await store.flush()
  const rate = total / ((performance.now() - started) / 1000)
  const stats = await store.close()
  if (stats.written !== total) throw new Error(`record bench lost events: ${JSON.stringify(stats)}`)
  return rate
}

/** Scale factor for quick runs: BENCH_SCALE=0.1 runs a tenth of the events. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1)
export const scaled = (n: number): number => Math.max(1000, Math.round(n * SCALE))

/** The discard server (a child process) and its totals. */
export interface DiscardServer {
  readonly url: string
  /** What the server has taken in so far, asked over IPC. */
  readonly received: () => Promise<Received>
  readonly stop: () => void
}

export async function startDiscardServer (): Promise<DiscardServer> {
  const file = fileURLToPath(new URL('./discard-server.ts', import.meta.url))
  const child: ChildProcess = fork(file, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', (code) => reject(new Error(`discard server exited with ${code}`)))
  })
  // Questions asked over IPC, by id, until the child answers or exits.
  const waiting = new Map<number, { resolve: (r: Received) => void, reject: (err: Error) => void }>()
  let nextId = 0
  child.on('message', (message: Received & { id: number }) => {
    const { id, ...rest } = message
    waiting.get(id)?.resolve(rest)
    waiting.delete(id)
  })
  child.once('exit', (code) => {
    for (const { reject } of waiting.values()) reject(new Error(`discard server exited with ${code}`))
    waiting.clear()
  })
  const received = (): Promise<Received> => new Promise((resolve, reject) => {
    const id = nextId++
    waiting.set(id, { resolve, reject })
    child.send({ id }, (err) => {
      if (err === null) return
      waiting.delete(id)
      reject(err)
    })
  })
  return { url: `http://127.0.0.1:${port}`, received, stop: () => child.kill() }
}

/**
 * Wraps one repetition of a contender that sends to `server`: the server must
 * have taken in exactly `total` events during it, and no malformed request.
 */
export function delivered (server: DiscardServer, total: number, name: string, run: () => Promise<number>): () => Promise<number> {
  return async () => {
    const before = await server.received()
    const value = await run()
    const after = await server.received()
    const events = after.events - before.events
    const malformed = after.malformed - before.malformed
    if (events !== total || malformed !== 0) {
      throw new Error(`${name}: the discard server received ${events} events of ${total} (${after.requests - before.requests} requests, ${malformed} malformed)`)
    }
    return value
  }
}
