/**
 * Trail options: signed checkpoints and skips of a store's lanes, and their
 * resolver. The key itself can only be checked by making a signer with it,
 * which is the store's to make: the resolver takes that check as an argument
 * and calls it at its place in the order of checks, so that a bad key fails
 * before anything after it is looked at.
 */
import type { KeyObject } from 'node:crypto'
import { InvalidOptionError } from '../errors.js'
import { MAX_DELAY_MS, integerOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'

/**
 * Checkpoints and skips of a store's lanes, signed with an Ed25519 key and
 * written in the C2SP-style note format of `audit-stream verify`.
 *
 * @example
 * ```ts
 * const signingKey = crypto.createPrivateKey(readFileSync('trail-key.pem'))
 * createAuditStore({ url, trail: { signingKey, file: '/var/lib/app/audit.notes' } })
 * ```
 */
export interface TrailOptions {
  /** The Ed25519 private key, as a `KeyObject` or a PKCS#8 PEM string. Required. */
  readonly signingKey: KeyObject | string
  /**
   * The key name on every signature line.
   * @default 'audit-stream'
   */
  readonly keyName?: string
  /**
   * A lane is checkpointed once this many more of its events are settled.
   * @default 1000
   * Range: integer >= 1.
   */
  readonly everyEvents?: number
  /**
   * Every lane whose head moved is checkpointed at this interval, in milliseconds (and at close).
   * @default 10000
   * Range: integer 1 to 2147483647.
   */
  readonly intervalMs?: number
  /**
   * A local file every note (checkpoint and skip) is appended to, kept away
   * from the server's database: `audit-stream verify --checkpoints <file>`
   * then catches a database whose newest events were deleted.
   * @default none
   */
  readonly file?: string
}

/** Trail options with every default applied (`signingKey` optional: unsigned skip notes only). @internal */
export interface ResolvedTrailOptions {
  readonly signingKey: KeyObject | string | undefined
  readonly keyName: string
  readonly everyEvents: number
  readonly intervalMs: number
  readonly file: string | undefined
}

/** The trail of lanes without a signing key: skip notes, unsigned; no lane checkpoints. @internal */
export const UNSIGNED_TRAIL: ResolvedTrailOptions = Object.freeze({
  signingKey: undefined, keyName: DEFAULTS.trail.keyName, everyEvents: DEFAULTS.trail.everyEvents, intervalMs: DEFAULTS.trail.intervalMs, file: undefined
})

/**
 * Checks a trail's signing key with its key name, as a signer made from them
 * would, and throws an {@link InvalidOptionError} naming `trail.signingKey` or
 * `trail.keyName` when they do not make one.
 * @internal
 */
export type SigningKeyCheck = (signingKey: KeyObject | string, keyName: string) => void

/**
 * Applies the trail defaults and validates; `checkSigningKey` checks the key itself.
 * @internal
 */
export function resolveTrailOptions (input: unknown, checkSigningKey: SigningKeyCheck): ResolvedTrailOptions | undefined {
  if (input === undefined) return undefined
  const o = objectOption('trail', input)
  const d = DEFAULTS.trail
  const key = o.signingKey
  if (typeof key !== 'string' && (typeof key !== 'object' || key === null)) {
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (KeyObject or PKCS#8 PEM)', key)
  }
  if (o.file !== undefined && (typeof o.file !== 'string' || o.file.length === 0)) throw new InvalidOptionError('trail.file', 'a non-empty file path', o.file)
  if (o.keyName !== undefined && typeof o.keyName !== 'string') throw new InvalidOptionError('trail.keyName', 'a string', o.keyName)
  // The key is checked now, so that a wrong one fails the constructor before the store takes anything.
  const keyName = (o.keyName as string | undefined) ?? d.keyName
  checkSigningKey(key as KeyObject | string, keyName)
  return {
    signingKey: key as KeyObject | string,
    keyName,
    everyEvents: integerOption('trail.everyEvents', o.everyEvents, d.everyEvents, 1),
    intervalMs: integerOption('trail.intervalMs', o.intervalMs, d.intervalMs, 1, MAX_DELAY_MS),
    file: o.file as string | undefined
  }
}
