/**
 * The crash harness's child: records events at full speed into a store with
 * a spool and reports over IPC how many events each resolved persisted()
 * covered. The parent kills it with SIGKILL at a random moment. With
 * `--drain` it only opens the store (replaying the spool) and closes it.
 */
import { pino } from 'pino'
import { AuditStore, DataStorageSink, newAuditEvent } from '../../../lib/index.js'

const [dir, url, gen, durability, segmentBytes, drain] = process.argv.slice(2) as [string, string, string, 'process' | 'os', string, string | undefined]
const store = new AuditStore({
  sink: new DataStorageSink({ url }),
  batchSize: 200,
  flushIntervalMs: 20,
  bufferSize: 20_000,
  logger: pino({ level: 'silent' }),
  spool: { dir, durability, segmentBytes: Number(segmentBytes), checkpointIntervalMs: 15 }
})

if (drain === '--drain') {
  store.close().then((stats) => {
    process.send!({ drained: stats })
    process.disconnect()
  }, (err: unknown) => {
    process.send!({ error: String(err) })
    process.disconnect()
  })
} else {
  let next = 0
  const event = (n: number) => newAuditEvent({
    event_type: 'spool.crash', event_category: 'tests', event_action: 'record', event_outcome: 'success',
    correlation_id: 'spool-crash', event_data: { id: `${gen}:${n}` }
  })
  const tick = (): void => {
    for (let i = 0; i < 100; i++) {
      if (!store.record(event(next))) break
      next++
    }
    const covered = next
    store.persisted().then(() => process.send!({ acked: covered }), () => {})
    setImmediate(tick)
  }
  process.send!({ ready: store.stats().recovered })
  tick()
}
