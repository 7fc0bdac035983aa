/**
 * `audit-stream replay`.
 */
import { parseArgs } from 'node:util'
import { replayDeadLetters } from '../dead-letter/replay.js'
import { SINK_ARGS, UsageError, cliLogger, envValue, sinkFor } from './common.js'
import { Progress } from './progress.js'

/** @internal */
export const REPLAY_USAGE = `Usage: audit-stream replay <dir> [options]

Resends the events of the dead-letter files in <dir>, each entry under its
original batch id (its idempotency key). Entries dead-lettered as invalid or
rejected are kept, not resent, unless asked. Files another live process may
still append to are left for a later replay.

Options:
  --url <url>           the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>       bearer token
  --token-file <path>   file holding the bearer token, re-read after a 401
  --include-rejected    also resend entries the server rejected
  --include-invalid     also resend entries dead-lettered as invalid
  -h, --help            show this help

Exit codes: 0 all resent entries stored, 1 some dead-lettered again or lost,
2 bad usage. Kept entries and busy files do not make it fail.
`

/** @internal */
export async function replay (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...SINK_ARGS,
      'include-invalid': { type: 'boolean', default: false },
      'include-rejected': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(REPLAY_USAGE)
    return 0
  }
  const dir = positionals[0]
  const url = values.url ?? envValue('AUDIT_STREAM_URL')
  if (dir === undefined || positionals.length > 1) throw new UsageError('replay takes exactly one <dir>', REPLAY_USAGE)
  if (url === undefined) throw new UsageError('replay needs --url (or AUDIT_STREAM_URL)', REPLAY_USAGE)
  const logger = cliLogger('warn')
  const sink = sinkFor(url, values, logger)
  const progress = new Progress()
  const result = await replayDeadLetters({
    dir,
    sink,
    logger,
    includeRejected: values['include-rejected'],
    // The default filter keeps invalid entries; --include-invalid widens it, keeping --include-rejected's say.
    ...(values['include-invalid'] ? { filter: (entry) => values['include-rejected'] || entry.reason !== 'rejected' } : {}),
    onProgress: (p) => progress.update(`replaying: ${p.files} files, ${p.entries} entries, ${p.events} events`)
  })
  progress.done()
  const failed = result.deadLettered + result.lost + result.corrupt
  process.stdout.write(
    `replay ${failed === 0 ? 'complete' : 'incomplete'}: ${result.files} files, ${result.entries} entries, ${result.events} events; ` +
      `${result.written} stored, ${result.deadLettered} dead-lettered again, ${result.lost} lost, ${result.corrupt} corrupt lines; ` +
      `${result.skipped} entries kept (${result.skippedByReason.rejected} rejected, ${result.skippedByReason.invalid} invalid), ` +
      `${result.busy} files left to their live writers\n`
  )
  return failed === 0 ? 0 : 1
}
