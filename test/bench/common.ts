/**
 * Shared pieces of the scenarios: a sink that acknowledges at once, a silent
 * logger, the discard server, the result row shape.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { BatchSink } from '../../lib/index.js'

export const silent = pino({ level: 'silent' })

/** A sink that stores nothing and answers at once. */
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

/** Scale factor for quick runs: BENCH_SCALE=0.1 runs a tenth of the events. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1)
export const scaled = (n: number): number => Math.max(1000, Math.round(n * SCALE))

export async function startDiscardServer (): Promise<{ url: string, stop: () => void }> {
  const file = fileURLToPath(new URL('./discard-server.ts', import.meta.url))
  const child: ChildProcess = fork(file, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', (code) => reject(new Error(`discard server exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() }
}
