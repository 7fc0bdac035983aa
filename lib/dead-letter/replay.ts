/**
 * Replay: reads dead-letter files back and resends their events through a store.
 */
import { createReadStream } from 'node:fs'
import { readdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { jsonlParser } from 'stream-chain/node/jsonl'
import type { BatchSink } from '../batch-sink.js'
import { FlushError, InvalidOptionError } from '../errors.js'
import { defaultLogger } from '../logger.js'
import { AuditStore } from '../store.js'
import type { FlushResult } from '../stats.js'
import type { DeadLetterEntry } from './dead-letter.js'
import { DEAD_LETTER_FILE_PREFIX, FileDeadLetter } from './file-dead-letter.js'

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
  /** A sink to resend through; replay makes a store around it, dead-lettering into `dir` again. */
  readonly sink?: BatchSink
  /** A store to resend through, with its own dead letter. It is flushed, not closed. */
  readonly store?: AuditStore
  /**
   * Which entries to resend. Entries left out stay pending: they are written to a new dead-letter file.
   * @default every entry whose reason is not `invalid` (those need fixing by hand first)
   */
  readonly filter?: (entry: DeadLetterEntry) => boolean
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
  /** Lines that were not JSON (a torn last line after a crash); they stay in the `*.replayed` file. */
  readonly corrupt: number
}

const REPLAYING = '.replaying'
const REPLAYED = '.replayed'

function isEntry (value: unknown): value is DeadLetterEntry {
  const v = value as Partial<DeadLetterEntry> | null
  return typeof v === 'object' && v !== null && typeof v.reason === 'string' && Array.isArray(v.events)
}

/**
 * Resends the events of every dead-letter file in `dir` through a store.
 * Each file is first renamed to `*.replaying` (so entries dead-lettered again
 * go to a fresh file), and to `*.replayed` once its events are settled, so a
 * second replay does not resend it. Events that fail again are dead-lettered
 * again as new entries; when some could not be (lost), the files keep their
 * original names and nothing is marked replayed.
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
  const { dir, sink, filter = (entry) => entry.reason !== 'invalid', onProgress } = options
  if (typeof dir !== 'string' || dir === '') throw new InvalidOptionError('dir', 'a non-empty string', dir)
  if ((sink === undefined) === (options.store === undefined)) throw new InvalidOptionError('sink', 'given, or else store, but not both', sink)
  const log = (options.logger ?? defaultLogger()).child({ component: 'replay' })
  const carryOver = new FileDeadLetter({ dir })
  const store = options.store ?? new AuditStore({ sink: sink!, deadLetter: carryOver, ...(options.logger === undefined ? {} : { logger: options.logger }) })

  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((name) => name.startsWith(DEAD_LETTER_FILE_PREFIX) && (name.endsWith('.jsonl') || name.endsWith('.jsonl' + REPLAYING)))
    .sort()
  const progress = { files: 0, entries: 0, events: 0 }
  let skipped = 0
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
          carryOver.write(value).then(() => callback(), callback)
          return
        }
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
  if (options.store === undefined) await store.close().catch(() => {})
  // With losses the files stay as *.replaying, which the next replay resumes.
  if (result.lost === 0) for (const { original, working } of taken) await rename(working, original + REPLAYED)
  else log.error({ lost: result.lost }, 'replay incomplete: files left to resume')
  log.info({ ...progress, ...result, skipped, corrupt }, 'replay finished')
  return { ...progress, ...result, skipped, corrupt }
}
