/**
 * `audit-stream replay`.
 */
import { parseArgs } from 'node:util'
import { replayDeadLetters } from '../dead-letter/replay.js'
import { USAGE, UsageError, cliLogger, envValue, sinkFor } from './common.js'
import { Progress } from './progress.js'

/** @internal */
export async function replay (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'include-invalid': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const dir = positionals[0]
  const url = values.url ?? envValue('AUDIT_STREAM_URL')
  if (dir === undefined || positionals.length > 1) throw new UsageError('replay takes exactly one <dir>')
  if (url === undefined) throw new UsageError('replay needs --url (or AUDIT_STREAM_URL)')
  const logger = cliLogger('warn')
  const sink = sinkFor(url, values, logger)
  const progress = new Progress()
  const result = await replayDeadLetters({
    dir,
    sink,
    logger,
    ...(values['include-invalid'] ? { filter: () => true } : {}),
    onProgress: (p) => progress.update(`replaying: ${p.files} files, ${p.entries} entries, ${p.events} events`)
  })
  progress.done()
  const failed = result.deadLettered + result.lost + result.corrupt
  process.stdout.write(
    `replay ${failed === 0 ? 'complete' : 'incomplete'}: ${result.files} files, ${result.entries} entries, ${result.events} events; ` +
      `${result.written} stored, ${result.deadLettered} dead-lettered again, ${result.lost} lost, ${result.skipped} entries skipped, ${result.corrupt} corrupt lines\n`
  )
  return failed === 0 ? 0 : 1
}
