/**
 * Lanes for the tests, built with lib/chain's hash and note functions:
 *
 * - a stored lane (`buildLane`): fixed events chained from GENESIS in one
 *   call, as the store chains a batch, with the rows the server stores and
 *   serves and a signed checkpoint every few seqs; for the verifier's tests;
 * - a producer's lane (`TestLane`): batches with the `audit-stream-*` headers
 *   chained event by event, and signed checkpoints and skips, sent over HTTP
 *   to a running server (`send`, `postNotes`, `verify`). Deliberately
 *   independent of the store and the sink: the server's rules are tested on
 *   their own.
 *
 * Paths and header names are spelled here, not imported from lib/protocol,
 * so that a change to the wire contract fails these tests.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { request } from 'undici'
import { newAuditEvent, type AuditEvent } from '../../lib/index.js'
import { GENESIS, chainEvents, chainHash, eventDigest } from '../../lib/chain/chain-hash.js'
import { NoteSigner } from '../../lib/chain/note-signature.js'
import { formatNote } from '../../lib/chain/format-note.js'
import { parseNote } from '../../lib/chain/parse-note.js'
import type { ParsedNote, TrailNote } from '../../lib/chain/signed-note.js'
import type { ChainRow } from '../../lib/chain/verify-chain.js'

/** A fresh Ed25519 signer. */
export function newSigner (): NoteSigner {
  const { privateKey } = generateKeyPairSync('ed25519')
  return new NoteSigner(privateKey)
}

/** The SPKI PEM of a signer's public key. */
export function publicPem (signer: NoteSigner): string {
  return signer.publicKeyPem()
}

// ---- A stored lane ----

/** The producer and the lane of every stored lane `buildLane` makes. */
export const PRODUCER = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b'
export const LANE = 1

/** The served form of a raw event, as the reference server's toApi gives it. */
export function servedOf (raw: string, eventId: string = randomUUID()): Record<string, unknown> {
  const event = JSON.parse(raw) as Record<string, unknown>
  const out: Record<string, unknown> = { event_id: eventId, event_date: new Date(String(event.event_timestamp)).toISOString().slice(0, 10) }
  for (const [key, value] of Object.entries(event)) {
    if (value === null) continue
    out[key] = key === 'event_timestamp' || key === 'parent_event_date' ? new Date(String(value)).toISOString() : value
  }
  return out
}

/** The raw text of the stored lane's event at `seq`. */
export function rawEvent (seq: number): string {
  return JSON.stringify({
    version: '1.0', event_type: 'workflow.execution.step.completed', event_timestamp: new Date(Date.UTC(2026, 2, 14, 9, 0, seq)).toISOString(),
    event_category: 'workflow', event_action: 'execute', event_outcome: 'success', correlation_id: `rr-${seq % 3}`,
    actor_type: 'service', actor_id: 'workflowexecution', parent_event_id: null, event_data: { seq, pods: [seq % 2, { ready: true }] }
  })
}

export interface Lane {
  readonly raws: string[]
  readonly hashes: string[]
  readonly rows: ChainRow[]
  /** Checkpoint notes by seq. */
  readonly checkpoints: Map<number, ParsedNote>
  readonly notes: ParsedNote[]
  readonly signer: NoteSigner
}

/** Time of a checkpoint at `seq`: later seqs are signed later. */
export function timeOf (seq: number): string {
  return new Date(Date.UTC(2026, 2, 14, 10, 0, 0) + seq * 1000).toISOString()
}

/** `count` events chained from GENESIS with a checkpoint every `every` seqs (and at the last one). */
export function buildLane (count = 50, every = 10, signer = newSigner()): Lane {
  const raws = Array.from({ length: count }, (_, i) => rawEvent(i + 1))
  const all = chainEvents(PRODUCER, LANE, 1, GENESIS, raws)
  const hashes = raws.map((_, i) => all.subarray(i * 32, i * 32 + 32).toString('hex'))
  const rows = raws.map((raw, i) => ({ seq: i + 1, hash: hashes[i]!, raw, event: servedOf(raw) }))
  const checkpoints = new Map<number, ParsedNote>()
  for (let seq = every; seq <= count; seq += every) checkpoints.set(seq, checkpoint(signer, seq, hashes[seq - 1]!))
  if (!checkpoints.has(count) && count > 0) checkpoints.set(count, checkpoint(signer, count, hashes[count - 1]!))
  return { raws, hashes, rows, checkpoints, notes: [...checkpoints.values()], signer }
}

/** A signed checkpoint note of the stored lane (or of any lane), parsed. */
export function checkpoint (signer: NoteSigner, seq: number, head: string, time = timeOf(seq), producerId = PRODUCER, lane = LANE): ParsedNote {
  return parseNote(signer.sign({ kind: 'checkpoint', producerId, lane, seq, head, time }))
}

// ---- A producer's lane, sent to a server ----

export const BATCH = '/api/v1/audit/events/batch'

export interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: Record<string, unknown> }

/** One HTTP call; the body is parsed as JSON when it is JSON. */
export async function call (base: string, method: string, path: string, options: { json?: unknown, body?: string | Buffer, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.json !== undefined || options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers }
  const res = await request(base + path, { method: method as 'GET', headers, body: options.json !== undefined ? JSON.stringify(options.json) : (options.body ?? null) })
  const text = await res.body.text()
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(text) as Record<string, unknown> } catch { body = { text } }
  return { status: res.statusCode, headers: res.headers, body }
}

/** A realistic event of a remediation trail, with a non-ASCII detail. */
export function laneEvent (correlationId: string, i: number, patch: Partial<AuditEvent> = {}): AuditEvent {
  return newAuditEvent({
    event_type: 'workflow.execution.step.completed',
    event_category: 'workflow',
    event_action: 'execute',
    event_outcome: i % 7 === 3 ? 'failure' : 'success',
    correlation_id: correlationId,
    actor_type: 'service',
    actor_id: 'workflowexecution',
    resource_type: 'Deployment',
    resource_id: `payments-api-${i % 3}`,
    namespace: 'payments',
    severity: 'info',
    duration_ms: 40 + i,
    event_data: { step: i, message: `rolled out replica set ${i} — café`, nested: { tags: ['a', 'b'], ok: true, ratio: 0.5 } },
    ...patch
  })
}

/** A batch ready to send: its body, its headers and each event's raw text and hash. */
export interface LaneBatchRequest {
  readonly body: string
  readonly headers: Record<string, string>
  readonly seq: number
  readonly raws: readonly string[]
  /** Lowercase hex per event. */
  readonly hashes: readonly string[]
}

/** A producer's lane: the chain so far, and the notes it signed. */
export class TestLane {
  readonly producerId: string
  readonly lane: number
  readonly signer: NoteSigner | undefined
  /** Hash at each seq, index 0 = GENESIS. */
  readonly heads: Buffer[] = [GENESIS]

  constructor (options: { producerId?: string, lane?: number, signer?: NoteSigner } = {}) {
    this.producerId = options.producerId ?? randomUUID()
    this.lane = options.lane ?? 0
    this.signer = options.signer
  }

  /** The last seq chained so far. */
  get seq (): number {
    return this.heads.length - 1
  }

  /**
   * The next batch of `raws` (event JSON texts, sent as they are), chained
   * from the current head, and advances the chain. `join` sits between elements.
   */
  batch (raws: readonly string[], join = ','): LaneBatchRequest {
    const seq = this.seq + 1
    const prev = this.heads[this.seq]!
    const hashes: string[] = []
    for (const [i, raw] of raws.entries()) {
      const h = chainHash(this.producerId, this.lane, seq + i, this.heads.at(-1)!, eventDigest(raw))
      this.heads.push(h)
      hashes.push(h.toString('hex'))
    }
    return { body: `[${raws.join(join)}]`, headers: this.headers(seq, prev, Buffer.from(hashes.at(-1)!, 'hex')), seq, raws, hashes }
  }

  /** The five headers of a batch starting at `seq`. */
  headers (seq: number, prev: Buffer, head: Buffer): Record<string, string> {
    return {
      'audit-stream-producer': this.producerId,
      'audit-stream-lane': String(this.lane),
      'audit-stream-seq': String(seq),
      'audit-stream-prev-hash': prev.toString('hex'),
      'audit-stream-head': head.toString('hex')
    }
  }

  /** The next batch of `events`, each serialized by JSON.stringify. */
  events (events: readonly AuditEvent[]): LaneBatchRequest {
    return this.batch(events.map((e) => JSON.stringify(e)))
  }

  /** The note text of a checkpoint at `seq` (default: the current one), signed when the lane has a signer. */
  checkpoint (seq = this.seq, time = new Date().toISOString()): string {
    return this.note({ kind: 'checkpoint', producerId: this.producerId, lane: this.lane, seq, head: this.heads[seq]!.toString('hex'), time })
  }

  /** Chains `raws` without sending them, and returns the skip note of their range. */
  skip (raws: readonly string[], reason = 'rejected'): string {
    const from = this.seq + 1
    const prev = this.heads[this.seq]!.toString('hex')
    this.batch(raws)
    return this.note({ kind: 'skip', producerId: this.producerId, lane: this.lane, from, to: this.seq, prev, head: this.heads[this.seq]!.toString('hex'), reason, time: new Date().toISOString() })
  }

  note (note: TrailNote): string {
    return this.signer === undefined ? formatNote(note) : this.signer.sign(note)
  }
}

/** Sends a batch. */
export async function send (base: string, batch: LaneBatchRequest, headers: Record<string, string> = {}): Promise<Reply> {
  return call(base, 'POST', BATCH, { body: batch.body, headers: { ...batch.headers, ...headers } })
}

/** Posts notes. */
export async function postNotes (base: string, notes: readonly string[], publicKey?: string | KeyObject): Promise<Reply> {
  const pem = typeof publicKey === 'string' || publicKey === undefined ? publicKey : publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return call(base, 'POST', '/api/v1/audit/checkpoints', { json: { notes, ...(pem === undefined ? {} : { public_key: pem }) } })
}

/** GET /api/v1/audit/verify of a lane. */
export async function verify (base: string, lane: TestLane, range: { from?: number, to?: number } = {}): Promise<Reply> {
  const params = new URLSearchParams({ producer_id: lane.producerId, lane: String(lane.lane) })
  if (range.from !== undefined) params.set('from', String(range.from))
  if (range.to !== undefined) params.set('to', String(range.to))
  return call(base, 'GET', `/api/v1/audit/verify?${params.toString()}`)
}
