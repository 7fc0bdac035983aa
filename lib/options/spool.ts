/**
 * Spool options: the crash-safe local copy of accepted events, and their
 * resolver. A resolved spool has a non-empty directory and a segment size of
 * at most 1 GiB, since recovery reads a segment back whole.
 */
import { InvalidOptionError } from '../errors.js'
import { MAX_DELAY_MS, integerOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'

/**
 * Options of the crash-safe local spool (option `spool` of a store). See README "Durability".
 *
 * @example
 * ```ts
 * const store = createAuditStore({ sink, spool: { dir: '/var/lib/myservice/audit-spool', durability: 'os' } })
 * ```
 */
export interface SpoolOptions {
  /** The spool's directory, created if needed; one store at a time (a pid lock file). Required. */
  readonly dir: string
  /**
   * What `persisted()` waits for. `'process'`: the events are written to the
   * kernel (one writev per tick), so they survive `kill -9`. `'os'`: also
   * fdatasync'd (group commit), so they survive power loss on hardware that honours fsync.
   * @default 'process'
   */
  readonly durability?: 'process' | 'os'
  /**
   * Bytes of spool on disk at most; then `record()` drops (reason `spool-full`) and `write()` waits.
   * @default 1073741824 (1 GiB)
   * Range: integer >= 1.
   */
  readonly maxBytes?: number
  /**
   * Bytes per segment file before the next one is started.
   * @default 67108864 (64 MiB)
   * Range: integer from 1 to 1073741824 (1 GiB: recovery reads a segment whole, and Node reads at most 2 GiB at once).
   */
  readonly segmentBytes?: number
  /**
   * How often the checkpoint of settled events is written, in milliseconds; the segments it covers are then deleted.
   * @default 1000
   * Range: integer from 1 to 2147483647.
   */
  readonly checkpointIntervalMs?: number
}

/** Spool options with every default applied. @internal */
export type ResolvedSpoolOptions = Required<SpoolOptions>

/**
 * Applies the spool defaults and validates.
 * @internal
 */
export function resolveSpoolOptions (input: unknown): ResolvedSpoolOptions | undefined {
  if (input === undefined) return undefined
  const o = objectOption('spool', input)
  const d = DEFAULTS.spool
  if (typeof o.dir !== 'string' || o.dir.length === 0) throw new InvalidOptionError('spool.dir', 'a non-empty directory path', o.dir)
  const durability = o.durability ?? d.durability
  if (durability !== 'process' && durability !== 'os') throw new InvalidOptionError('spool.durability', "'process' or 'os'", durability)
  return {
    dir: o.dir,
    durability,
    maxBytes: integerOption('spool.maxBytes', o.maxBytes, d.maxBytes, 1),
    segmentBytes: integerOption('spool.segmentBytes', o.segmentBytes, d.segmentBytes, 1, 2 ** 30),
    checkpointIntervalMs: integerOption('spool.checkpointIntervalMs', o.checkpointIntervalMs, d.checkpointIntervalMs, 1, MAX_DELAY_MS)
  }
}
