/**
 * A synthetic lane built with the real chain and note functions: events as
 * the store serializes them, rows as the server stores and serves them, and
 * checkpoint notes every few seqs.
 */
import crypto from 'node:crypto'
import { chainEvents, GENESIS } from '../../lib/chain/chain-hash.js'
import { NoteSigner } from '../../lib/chain/note-signature.js'
import { parseNote } from '../../lib/chain/parse-note.js'
import type { ParsedNote } from '../../lib/chain/signed-note.js'
import type { ChainRow } from '../../lib/chain/verify-chain.js'

export const PRODUCER = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b'
export const LANE = 1

/** The served form of a raw event, as the reference server's toApi gives it. */
export function servedOf (raw: string, eventId = crypto.randomUUID()): Record<string, unknown> {
  const event = JSON.parse(raw) as Record<string, unknown>
  const out: Record<string, unknown> = { event_id: eventId, event_date: new Date(String(event.event_timestamp)).toISOString().slice(0, 10) }
  for (const [key, value] of Object.entries(event)) {
    if (value === null) continue
    out[key] = key === 'event_timestamp' || key === 'parent_event_date' ? new Date(String(value)).toISOString() : value
  }
  return out
}

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
export function buildLane (count = 50, every = 10, signer = new NoteSigner(crypto.generateKeyPairSync('ed25519').privateKey)): Lane {
  const raws = Array.from({ length: count }, (_, i) => rawEvent(i + 1))
  const all = chainEvents(PRODUCER, LANE, 1, GENESIS, raws)
  const hashes = raws.map((_, i) => all.subarray(i * 32, i * 32 + 32).toString('hex'))
  const rows = raws.map((raw, i) => ({ seq: i + 1, hash: hashes[i]!, raw, event: servedOf(raw) }))
  const checkpoints = new Map<number, ParsedNote>()
  for (let seq = every; seq <= count; seq += every) checkpoints.set(seq, checkpoint(signer, seq, hashes[seq - 1]!))
  if (!checkpoints.has(count) && count > 0) checkpoints.set(count, checkpoint(signer, count, hashes[count - 1]!))
  return { raws, hashes, rows, checkpoints, notes: [...checkpoints.values()], signer }
}

export function checkpoint (signer: NoteSigner, seq: number, head: string, time = timeOf(seq), producerId = PRODUCER, lane = LANE): ParsedNote {
  return parseNote(signer.sign({ kind: 'checkpoint', producerId, lane, seq, head, time }))
}
