/**
 * ETL: read raw order records from a JSONL file, map each one to an audit
 * event inside a stream-chain chain, and pipe them into a store. An invalid
 * record goes to the dead letter; it does not stop the pipeline.
 *
 *   node --import tsx examples/etl-stream-chain.ts [records.jsonl]
 *
 * AUDIT_DATASTORAGE_URL points it at a DataStorage service; without it an
 * embedded reference server is started.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { chain } from 'stream-chain'
import { jsonlParser } from 'stream-chain/node/jsonl'
import { DataStorageSink, FileDeadLetter, createAuditStore } from '../lib/index.js'
import { startDataStorageServer } from '../lib/server/index.js'

interface OrderRecord {
  order_id: string
  user: string
  action: string
  status: string
  amount_cents: number
  at: string
}

const file = process.argv[2] ?? fileURLToPath(new URL('./data/orders.jsonl', import.meta.url))
const embedded = process.env.AUDIT_DATASTORAGE_URL === undefined ? await startDataStorageServer() : undefined
const url = process.env.AUDIT_DATASTORAGE_URL ?? embedded!.url
const deadLetterDir = await mkdtemp(join(tmpdir(), 'etl-dead-letter-'))

const store = createAuditStore({
  sink: new DataStorageSink({ url }),
  deadLetter: new FileDeadLetter({ dir: deadLetterDir })
})

// No validation here on purpose: the store validates, and dead-letters what fails.
function toAuditEvent ({ value }: { value: OrderRecord }): unknown {
  return {
    version: '1.0',
    event_type: `order.${value.action}`,
    event_timestamp: value.at,
    event_category: 'orders',
    event_action: value.action,
    event_outcome: value.status === 'ok' ? 'success' : value.status === 'error' ? 'failure' : value.status,
    correlation_id: value.order_id,
    actor_type: 'user',
    actor_id: value.user,
    resource_type: 'order',
    resource_id: value.order_id,
    event_data: { amount_cents: value.amount_cents }
  }
}

await pipeline(createReadStream(file), chain([jsonlParser<OrderRecord>(), toAuditEvent]), store)
const stats = store.stats()
console.log(`etl: ${stats.accepted} records read, ${stats.written} written, ${stats.deadLettered} dead-lettered (to ${deadLetterDir}), ${stats.lost} lost`)
console.log('stats:', stats)
await embedded?.close()
