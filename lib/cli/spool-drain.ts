/**
 * `audit-stream spool drain`: sends what a dead service left in its spool.
 * A store opened on the directory replays the unsettled events (cut batches
 * with their same ids) to DataStorage; a clean close leaves the spool empty.
 */
import { statSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { FileDeadLetter } from '../dead-letter/file-dead-letter.js'
import { AuditStoreError } from '../errors.js'
import type { StoreStats } from '../accounting/stats.js'
import { AuditStore } from '../store/store.js'
import { SINK_ARGS, UsageError, cliLogger, envValue, sinkFor } from './common.js'

/** @internal */
export const SPOOL_DRAIN_USAGE = `Usage: audit-stream spool drain <dir> --url <url> [options]

Sends the events still pending in the spool directory <dir> of a store whose
process has ended (batches already cut keep their ids, so DataStorage stores
each event once). When everything is stored, <dir> is left empty.
A spool whose lock is held by a live process is refused.

Options:
  --url <url>             the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>         bearer token
  --token-file <path>     file holding the bearer token, re-read after a 401
  --dead-letter <dir>     where undeliverable events go
                          (without it they are counted lost)
  -h, --help              show this help

Exit codes: 0 every recovered event stored, 1 some dead-lettered or lost (or
damaged records discarded),
2 bad usage (no <dir> or --url, <dir> not a directory, or its lock is held).
`

/** @internal */
export async function spoolDrain (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...SINK_ARGS,
      'dead-letter': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(SPOOL_DRAIN_USAGE)
    return 0
  }
  const [dir, ...more] = positionals
  const url = values.url ?? envValue('AUDIT_STREAM_URL')
  if (dir === undefined || more.length > 0) throw new UsageError('spool drain takes exactly one <dir>', SPOOL_DRAIN_USAGE)
  if (url === undefined) throw new UsageError('spool drain needs --url (or AUDIT_STREAM_URL)', SPOOL_DRAIN_USAGE)
  // The store would create a missing directory: a typo must not "drain" an empty new spool.
  const isDir = ((): boolean => {
    try {
      return statSync(dir).isDirectory()
    } catch {
      return false
    }
  })()
  if (!isDir) throw new UsageError(`not a spool directory: ${dir}`, SPOOL_DRAIN_USAGE)
  const logger = cliLogger('warn')
  let store: AuditStore
  try {
    store = new AuditStore({
      sink: sinkFor(url, values, logger),
      logger,
      spool: { dir },
      ...(values['dead-letter'] === undefined ? {} : { deadLetter: new FileDeadLetter({ dir: values['dead-letter'] }) })
    })
  } catch (err) {
    // Its lock is held by a live process (or cannot be taken): not ours to drain; nothing was changed.
    if (err instanceof AuditStoreError && err.code === 'AUDIT_ERR_INVALID_OPTION') {
      process.stderr.write(`audit-stream: cannot drain ${dir}: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const settled = (err: unknown): StoreStats => (err as { stats?: StoreStats }).stats ?? store.stats()
  await store.flush().catch(() => {})
  const stats = await store.close().catch(settled)
  const recovered = stats.recovered
  // A damaged spool lost what its damaged records held before anything could be sent: not complete.
  const corrupt = stats.spoolCorrupt
  const complete = stats.written === recovered && stats.deadLettered + stats.lost === 0 && corrupt.bytes === 0
  process.stdout.write(
    `spool drain ${complete ? 'complete' : 'incomplete'}: ${recovered} events recovered, ${stats.written} stored, ` +
      `${stats.deadLettered} dead-lettered${values['dead-letter'] === undefined || stats.deadLettered === 0 ? '' : ` to ${values['dead-letter']}`}, ${stats.lost} lost` +
      `${corrupt.bytes === 0 ? '' : `, ${corrupt.bytes} damaged bytes discarded (at least ${corrupt.events} events)`}\n`
  )
  return complete ? 0 : 1
}
