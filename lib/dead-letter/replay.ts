/**
 * Replay: reads dead-letter files back and resends their events through a store.
 *
 * Files: a dead-letter file `audit-dead-letter-<day>-<pid>.jsonl` whose
 * writer is another live process and whose day is today (UTC) is left alone,
 * because FileDeadLetter may still append to it; it is replayed once that
 * process has ended or the day has passed. (An advisory lock would need a
 * native module; a pid check costs nothing and the writer's pid is already in
 * the name.) Each file taken is renamed to `*.replaying` before it is read and
 * to `*.replayed` once every event is settled.
 */
import { createReadStream } from 'node:fs'
import { readdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { jsonlParser } from 'stream-chain/node/jsonl'
import type { BatchSink } from '../delivery/batch-sink.js'
import { FlushError, InvalidOptionError } from '../errors.js'
import { defaultLogger } from '../logger.js'
import type { RetryOptions } from '../options/retry.js'
import { AuditStore } from '../store/store.js'
import type { FlushResult, StoreStats } from '../accounting/stats.js'
import type { DeadLetterEntry, DeadLetterReason } from './dead-letter.js'
import { DEAD_LETTER_FILE_PREFIX, FileDeadLetter } from './file-dead-letter.js'
import { ReplaySink } from './replay-sink.js'

/**
 * Options of {@link replayDeadLetters}. Give either `sink` or `store`.
 *
 * @example
 * ```ts
 * await replayDeadLetters({ dir: './audit-dlq', sink, filter: (entry) => entry.reason === 'exhausted' })
 * ```
 */
export interface ReplayOptions {
  /** The dead-letter directory, as given to {@link FileDeadLetter}. Required. */
  readonly dir: string
  /**
   * A sink to resend through; replay makes a store around it, dead-lettering into `dir` again.
   * Each entry is resent as one batch under its original batch id, so the sink's idempotency
   * key is the one of the first send.
   */
  readonly sink?: BatchSink
  /**
   * A store to resend through, with its own dead letter. It is flushed, not closed. Its batches
   * get fresh ids: a batch stored before it was dead-lettered may then be stored twice.
   */
  readonly store?: AuditStore
  /**
   * Also resend entries dead-lettered as `rejected`. The server refused those, so they usually
   * come back rejected; by default they stay in the dead letter and are counted in `skipped`.
   * @default false
   */
  readonly includeRejected?: boolean
  /**
   * Which entries to resend; when given, it alone decides (`includeRejected` is not consulted).
   * Entries left out stay pending: they are written to a new dead-letter file.
   * @default every entry whose reason is neither `invalid` (those need fixing by hand first)
   * nor `rejected` (unless `includeRejected`)
   */
  readonly filter?: (entry: DeadLetterEntry) => boolean
  /**
   * How the sink given as `sink` retries during the replay.
   * @default see {@link RetryOptions}
   */
  readonly retry?: RetryOptions
  /** Called after each entry is read. */
  readonly onProgress?: (progress: ReplayProgress) => void
  /** @default the store's logger, or pino at level `warn` */
  readonly logger?: Logger
}

/**
 * Progress of a replay so far.
 *
 * @example
 * ```ts
 * await replayDeadLetters({ dir, sink, onProgress: (p: ReplayProgress) => console.log(`${p.events} events resent`) })
 * ```
 */
export interface ReplayProgress {
  /** Files read or being read. */
  readonly files: number
  /** Entries read. */
  readonly entries: number
  /** Events resent. */
  readonly events: number
}

/**
 * What a replay did.
 *
 * @example
 * ```ts
 * const result: ReplayResult = await replayDeadLetters({ dir, sink })
 * if (result.deadLettered + result.lost > 0) process.exitCode = 1
 * ```
 */
export interface ReplayResult extends FlushResult {
  /** Files replayed; each is renamed to `*.replayed`. */
  readonly files: number
  /** Entries read. */
  readonly entries: number
  /** Events resent. */
  readonly events: number
  /** Entries the filter left out, carried over to a new dead-letter file. */
  readonly skipped: number
  /** `skipped` by the entries' reasons. */
  readonly skippedByReason: Readonly<Record<DeadLetterReason, number>>
  /** Files left alone because another live process may still append to them. */
  readonly busy: number
  /** Lines that were not JSON (a torn last line after a crash); they stay in the `*.replayed` file. */
  readonly corrupt: number
}

const REPLAYING = '.replaying'
const REPLAYED = '.replayed'

const FILE_NAME = /^audit-dead-letter-(\d{4}-\d{2}-\d{2})-(\d+)\.jsonl$/

/**
 * Whether another live process may still append to the file `name`: its
 * pid (from the name) is alive and not ours, and the file is today's (UTC;
 * yesterday's too in the first minute of a day, for a write under way).
 * @internal
 */
export function isBusy (name: string, now = Date.now()): boolean {
  const match = FILE_NAME.exec(name)
  if (match === null) return false
  const pid = Number(match[2])
  if (pid === process.pid) return false
  const day = match[1]!
  const today = new Date(now).toISOString().slice(0, 10)
  const justAfterMidnight = now % 86_400_000 < 60_000 && day === new Date(now - 86_400_000).toISOString().slice(0, 10)
  if (day !== today && !justAfterMidnight) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as { code?: unknown }).code === 'EPERM'
  }
}

function isEntry (value: unknown): value is DeadLetterEntry {
  const v = value as Partial<DeadLetterEntry> | null
  return typeof v === 'object' && v !== null && typeof v.reason === 'string' && Array.isArray(v.events)
}

/**
 * Resends the events of every dead-letter file in `dir` through a store.
 * Each file is first renamed to `*.replaying` (so entries dead-lettered again
 * go to a fresh file), and to `*.replayed` once its events are settled, so a
 * second replay does not resend it. Events that fail again are dead-lettered
 * again as new entries; when some could not be (lost), the files stay
 * `*.replaying` for the next replay to resume and nothing is marked replayed.
 *
 * With `sink`, each entry goes out as one batch under its original batch id
 * (the idempotency key of its first send), so a batch the server had already
 * committed is stored once. Entries dead-lettered as `invalid` or `rejected`
 * are kept, not resent, unless `filter` or `includeRejected` says otherwise.
 * A file that another live process may still append to is left alone.
 *
 * @param options - see {@link ReplayOptions}
 * @returns the counts
 * @throws {@link InvalidOptionError} unless exactly one of `sink` and `store` is given
 * @example
 * ```ts
 * const result = await replayDeadLetters({ dir: './audit-dlq', sink: new DataStorageSink({ url }) })
 * console.log(`${result.written} stored, ${result.deadLettered} dead-lettered again`)
 * ```
 */
export async function replayDeadLetters (options: ReplayOptions): Promise<ReplayResult> {
  const { dir, sink, onProgress } = options
  const includeRejected = options.includeRejected ?? false
  const filter = options.filter ?? ((entry: DeadLetterEntry) => entry.reason !== 'invalid' && (includeRejected || entry.reason !== 'rejected'))
  if (typeof dir !== 'string' || dir === '') throw new InvalidOptionError('dir', 'a non-empty string', dir)
  if ((sink === undefined) === (options.store === undefined)) throw new InvalidOptionError('sink', 'given, or else store, but not both', sink)
  if (typeof includeRejected !== 'boolean') throw new InvalidOptionError('includeRejected', 'a boolean', includeRejected)
  const log = (options.logger ?? defaultLogger()).child({ component: 'replay' })
  const carryOver = new FileDeadLetter({ dir })
  const replaySink = sink === undefined
    ? undefined
    : new ReplaySink(sink, {
      // Two batches in flight, as DataStorageSink does by default.
      concurrency: 2,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.logger === undefined ? {} : { logger: options.logger })
    })
  // Batches as large as the buffer, so that an entry fits in one batch and keeps its id.
  const store = options.store ?? new AuditStore({ sink: replaySink!, deadLetter: carryOver, batchSize: 10_000, bufferSize: 10_000, ...(options.logger === undefined ? {} : { logger: options.logger }) })

  const listed = (await readdir(dir).catch(() => [] as string[]))
    .filter((name) => name.startsWith(DEAD_LETTER_FILE_PREFIX) && (name.endsWith('.jsonl') || name.endsWith('.jsonl' + REPLAYING)))
    .sort()
  const names = listed.filter((name) => !isBusy(name))
  const busy = listed.length - names.length
  if (busy > 0) log.info({ busy }, 'dead-letter files of live processes left alone')
  const progress = { files: 0, entries: 0, events: 0 }
  let skipped = 0
  const skippedByReason: Record<DeadLetterReason, number> = { invalid: 0, rejected: 0, exhausted: 0, shutdown: 0 }
  let corrupt = 0
  const taken: Array<{ original: string, working: string }> = []


  for (const name of names) {
    const original = join(dir, name.endsWith(REPLAYING) ? name.slice(0, -REPLAYING.length) : name)
    const working = original + REPLAYING
    if (!name.endsWith(REPLAYING)) await rename(original, working)
    taken.push({ original, working })
    progress.files++
    const parser = jsonlParser.asStream({ errorIndicator: (_err: Error, input: string) => ({ corruptLine: input }) })
    const resend = new Writable({
      objectMode: true,
      write: ({ value }: { value: unknown }, _encoding, callback) => {
        if (!isEntry(value)) {
          corrupt++
          log.error({ file: working }, 'dead-letter line is not an entry')
          return callback()
        }
        progress.entries++
        if (!filter(value)) {
          skipped++
          if (value.reason in skippedByReason) skippedByReason[value.reason]++
          carryOver.write(value).then(() => callback(), callback)
          return
        }
        if (replaySink !== undefined && typeof value.batchId === 'string') replaySink.expect(value.events, value.batchId)
        let ok = true
        for (const json of value.events) {
          let event: unknown
          try {
            event = JSON.parse(json)
          } catch {
            event = json // the store dead-letters it as invalid
          }
          progress.events++
          ok = store.write(event)
        }
        // A flush marker behind the entry closes its batch, so the next entry does not join it.
        if (replaySink !== undefined) store.flush().catch(() => {})
        onProgress?.({ ...progress })
        if (ok) callback()
        else store.once('drain', () => callback())
      }
    })
    await pipeline(createReadStream(working), parser, resend)
  }

  let result: FlushResult
  try {
    result = await store.flush()
  } catch (err) {
    if (!(err instanceof FlushError)) throw err
    result = err.result
  }
  if (options.store === undefined) {
    // The per-entry flushes each reported a part; the store's own totals hold the whole.
    await store.close().catch(() => {})
    result = totals(store.stats())
  }
  // With losses the files stay as *.replaying, which the next replay resumes.
  if (result.lost === 0) for (const { original, working } of taken) await rename(working, original + REPLAYED)
  else log.error({ lost: result.lost }, 'replay incomplete: files left to resume')
  const summary = { ...progress, ...result, skipped, skippedByReason, busy, corrupt }
  log.info(summary, 'replay finished')
  return summary
}

function totals (stats: StoreStats): FlushResult {
  return { written: stats.written, deadLettered: stats.deadLettered, dropped: stats.dropped, lost: stats.lost }
}
