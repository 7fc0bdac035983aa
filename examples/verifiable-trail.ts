/**
 * A trail you can verify: a store with ordered lanes and a signing key sends
 * the events of a few remediations to the reference server (PGlite in
 * memory), signs a checkpoint of each lane every 500 events and at close,
 * keeps every note in a local file, and then asks the server to verify each
 * lane: recomputing the hash chain over the bytes the store sent and checking
 * the checkpoints' signatures.
 *
 * Run with `node --import tsx examples/verifiable-trail.ts`. TRAIL_EVENTS
 * changes the number of events (default 5000). Exits 1 if a lane fails.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataStorageSink, createAuditStore, laneOf, newAuditEvent, parseNotes } from '../lib/index.js'
import { startDataStorageServer } from '../lib/server/index.js'

const TOTAL = Number(process.env.TRAIL_EVENTS ?? 5_000)
const LANES = 4

// In production the key comes from a secret store; here a fresh one.
const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const notesFile = join(mkdtempSync(join(tmpdir(), 'audit-trail-')), 'audit.notes')

const server = await startDataStorageServer({ trailPublicKeys: [publicKey] })
const store = createAuditStore({
  sink: new DataStorageSink({ url: server.url }),
  lanes: LANES,
  trail: { signingKey: privateKey, everyEvents: 500, file: notesFile }
})

const remediations = Array.from({ length: 8 }, () => `rr-${randomUUID()}`)
for (let i = 0; i < TOTAL; i++) {
  store.record(newAuditEvent({
    event_type: 'workflow.execution.step.completed',
    event_category: 'workflow',
    event_action: 'execute',
    event_outcome: 'success',
    correlation_id: remediations[i % remediations.length]!,
    event_data: { step: Math.floor(i / remediations.length) }
  }))
}
const result = await store.flush()
await store.close()
console.log(`flush: ${result.written} written, ${result.deadLettered} dead-lettered, ${result.lost} lost; producer ${store.producerId}`)

let failed = false
const lanes = new Set(remediations.map((id) => laneOf(id, LANES)))
for (const lane of [...lanes].sort()) {
  const reply = await fetch(`${server.url}/api/v1/audit/verify?producer_id=${store.producerId}&lane=${lane}`)
  const v = await reply.json() as { to: number, verified_through: number, checkpoints: number, first_bad_seq?: number, reason?: string }
  if (v.first_bad_seq === undefined && v.verified_through === v.to) {
    console.log(`lane ${lane}: verified through seq ${v.verified_through} (${v.checkpoints} signed checkpoints)`)
  } else {
    failed = true
    console.log(`lane ${lane}: FAILED at seq ${String(v.first_bad_seq)} (${String(v.reason)}); verified through ${v.verified_through}`)
  }
}
console.log(`${parseNotes(readFileSync(notesFile, 'utf8')).length} notes kept in ${notesFile}`)
console.log(`verify them yourself: audit-stream verify --url <url> --public-key <key.pub.pem> --checkpoints ${notesFile}`)
await server.close()
process.exitCode = failed ? 1 : 0
