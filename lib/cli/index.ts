#!/usr/bin/env node
/**
 * The `audit-stream` command line. Environment variables are read here and
 * nowhere else.
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { replayDeadLetters } from '../dead-letter/replay.js'
import { AuditStoreError } from '../errors.js'
import { DataStorageSink } from '../sinks/datastorage-sink.js'
import { Progress } from './progress.js'

const USAGE = `Usage: audit-stream <command> [options]

Commands:
  replay <dir>    resend the events of the dead-letter files in <dir>

Options for replay:
  --url <url>           the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>       bearer token
  --token-file <path>   file holding the bearer token, re-read after a 401
  --include-invalid     also resend entries dead-lettered as invalid
  -h, --help            show this help

Exit codes: 0 all stored, 1 some dead-lettered again or lost, 2 bad usage.
`

class UsageError extends Error {}

async function replay (args: string[]): Promise<number> {
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
  const url = values.url ?? process.env.AUDIT_STREAM_URL
  if (dir === undefined || positionals.length > 1) throw new UsageError('replay takes exactly one <dir>')
  if (url === undefined) throw new UsageError('replay needs --url (or AUDIT_STREAM_URL)')
  const logger = pino({ level: process.env.AUDIT_STREAM_LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }))
  const sink = new DataStorageSink({
    url,
    logger,
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] })
  })
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

/**
 * Runs the CLI with `argv` (without node and the script).
 * @internal
 */
export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    }
    if (command === 'replay') return await replay(rest)
    throw new UsageError(`unknown command: ${command}`)
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true || (err instanceof AuditStoreError && err.code === 'AUDIT_ERR_INVALID_OPTION')) {
      process.stderr.write(`audit-stream: ${(err as Error).message}\n\n${USAGE}`)
      return 2
    }
    process.stderr.write(`audit-stream: ${(err as Error).message}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
