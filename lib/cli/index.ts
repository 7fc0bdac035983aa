#!/usr/bin/env node
/**
 * The `audit-stream` command line. Environment variables are read here and
 * nowhere else.
 */
import { constants, createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { jsonlParser } from 'stream-chain/node/jsonl'
import { FileDeadLetter } from '../dead-letter/file-dead-letter.js'
import { AuditStore } from '../store.js'
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { replayDeadLetters } from '../dead-letter/replay.js'
import { AuditStoreError } from '../errors.js'
import { startDataStorageServer } from '../server/datastorage-server.js'
import { DataStorageSink } from '../sinks/datastorage-sink.js'
import { Progress } from './progress.js'

const USAGE = `Usage: audit-stream <command> [options]

Commands:
  send <file|->   send the JSONL events of a file (or stdin) to DataStorage
  serve           run the reference DataStorage server
  replay <dir>    resend the events of the dead-letter files in <dir>

Options for send:
  --url <url>             the DataStorage service (or AUDIT_STREAM_URL)
  --batch-size <n>        events per batch (default 1000)
  --token <token>         bearer token
  --token-file <path>     file holding the bearer token, re-read after a 401
  --dead-letter <dir>     where invalid and undeliverable events go

Options for serve:
  --port <n>            port to listen on (default 8080; 0 picks a free one)
  --host <address>      address to listen on (default 127.0.0.1)
  --database <where>    memory:// (default), a directory for PGlite on disk,
                        or a postgres:// URL (or DATABASE_URL)
  --token <token>       require this bearer token (or AUDIT_STREAM_TOKEN)

Options for replay:
  --url <url>           the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>       bearer token
  --token-file <path>   file holding the bearer token, re-read after a 401
  --include-invalid     also resend entries dead-lettered as invalid
  -h, --help            show this help

Exit codes: 0 all stored, 1 some dead-lettered or lost, 2 bad usage.
`

class UsageError extends Error {}

// pino, pretty-printed on a terminal, JSON lines otherwise; on stderr either way.
function cliLogger (level: string): Logger {
  const options = { name: 'audit-stream', level: process.env.AUDIT_STREAM_LOG_LEVEL ?? level }
  if (process.stderr.isTTY === true) return pino(options, pretty({ destination: 2, sync: true, colorize: true }))
  return pino(options, pino.destination({ dest: 2, sync: true }))
}

async function serve (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      database: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (positionals.length > 0) throw new UsageError('serve takes no positional arguments')
  if (!/^\d+$/.test(values.port)) throw new UsageError(`--port must be a number, got ${values.port}`)
  const database = values.database ?? (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '' ? process.env.DATABASE_URL : 'memory://')
  const token = values.token ?? (process.env.AUDIT_STREAM_TOKEN !== undefined && process.env.AUDIT_STREAM_TOKEN !== '' ? process.env.AUDIT_STREAM_TOKEN : undefined)
  const logger = cliLogger('info')
  const server = await startDataStorageServer({
    port: Number(values.port),
    host: values.host,
    database,
    logger,
    ...(token === undefined ? {} : { token })
  })
  process.stdout.write(`audit-stream serve: listening on ${server.url} (${server.engine})\n`)
  return new Promise<number>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once')
        process.exit(1)
      }
      stopping = true
      logger.info({ signal }, 'shutting down')
      server.close().then(() => resolve(0), (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        resolve(1)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

function sinkFor (url: string, values: { token?: string | undefined, 'token-file'?: string | undefined }, logger: Logger): DataStorageSink {
  return new DataStorageSink({
    url,
    logger,
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] })
  })
}

async function send (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'batch-size': { type: 'string', default: '1000' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'dead-letter': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const input = positionals[0]
  const url = values.url ?? (process.env.AUDIT_STREAM_URL === '' ? undefined : process.env.AUDIT_STREAM_URL)
  if (input === undefined || positionals.length > 1) throw new UsageError('send takes exactly one <file> (or - for stdin)')
  if (url === undefined) throw new UsageError('send needs --url (or AUDIT_STREAM_URL)')
  if (!/^\d+$/.test(values['batch-size'])) throw new UsageError(`--batch-size must be a number, got ${values['batch-size']}`)
  if (input !== '-') await access(input, constants.R_OK).catch(() => { throw new UsageError(`cannot read ${input}`) })
  const logger = cliLogger('warn')
  const store = new AuditStore({
    sink: sinkFor(url, values, logger),
    batchSize: Number(values['batch-size']),
    logger,
    ...(values['dead-letter'] === undefined ? {} : { deadLetter: new FileDeadLetter({ dir: values['dead-letter'] }) })
  })
  const progress = new Progress()
  const ticker = setInterval(() => {
    const s = store.stats()
    progress.update(`sending: ${s.written} stored, ${s.pending} pending, ${s.deadLettered} dead-lettered`)
  }, 100)
  ticker.unref()
  const source = input === '-' ? process.stdin : createReadStream(input)
  // A line that is not JSON travels on as its text: the store then dead-letters it as invalid.
  const parser = jsonlParser.asStream({ errorIndicator: (_err: Error, line: string) => line })
  const toValues = new Transform({
    objectMode: true,
    transform ({ value }: { value: unknown }, _encoding, callback) { callback(null, value) }
  })
  try {
    await pipeline(source, parser, toValues, store)
  } finally {
    clearInterval(ticker)
    progress.done()
  }
  const stats = await store.close().catch((err: unknown) => (err as { stats?: ReturnType<AuditStore['stats']> }).stats ?? store.stats())
  const failed = stats.invalid + stats.deadLettered + stats.lost + stats.dropped
  const problems = [
    stats.invalid > 0 ? `${stats.invalid} invalid` : '',
    stats.deadLettered > 0 ? `${stats.deadLettered} dead-lettered${values['dead-letter'] === undefined ? '' : ` to ${values['dead-letter']}`}` : '',
    stats.lost > 0 ? `${stats.lost} lost` : ''
  ].filter(Boolean).join(', ')
  process.stdout.write(
    `send ${failed === 0 ? 'complete' : 'incomplete'}: ${stats.accepted + stats.invalid} events read, ${stats.written} stored in ${stats.batches} batches` +
      `${problems === '' ? '' : `; ${problems}`}\n`
  )
  return failed === 0 ? 0 : 1
}

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
  const url = values.url ?? (process.env.AUDIT_STREAM_URL === '' ? undefined : process.env.AUDIT_STREAM_URL)
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
    if (command === 'send') return await send(rest)
    if (command === 'serve') return await serve(rest)
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
