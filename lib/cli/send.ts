/**
 * `audit-stream send`.
 */
import { constants, createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { jsonlParser } from 'stream-chain/node/jsonl'
import { FileDeadLetter } from '../dead-letter/file-dead-letter.js'
import { AuditStore } from '../store/store.js'
import { SINK_ARGS, UsageError, cliLogger, envValue, sinkFor } from './common.js'
import { Progress } from './progress.js'

/** @internal */
export const SEND_USAGE = `Usage: audit-stream send <file|-> [options]

Sends the JSONL events of <file> (or of stdin, for -) to a DataStorage service.
A line that is not JSON or not a valid event is dead-lettered as invalid.

Options:
  --url <url>             the DataStorage service (or AUDIT_STREAM_URL)
  --batch-size <n>        events per batch (default 1000)
  --token <token>         bearer token
  --token-file <path>     file holding the bearer token, re-read after a 401
  --dead-letter <dir>     where invalid and undeliverable events go
                          (without it they are counted lost)
  --openapi <file>        an OpenAPI 3.0 document (.yaml or .json) whose
                          AuditEventRequest is the event schema
  -h, --help              show this help

Exit codes: 0 all stored, 1 some invalid, dead-lettered or lost, 2 bad usage.
`

/** @internal */
export async function send (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...SINK_ARGS,
      'batch-size': { type: 'string', default: '1000' },
      'dead-letter': { type: 'string' },
      openapi: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(SEND_USAGE)
    return 0
  }
  const input = positionals[0]
  const url = values.url ?? envValue('AUDIT_STREAM_URL')
  if (input === undefined || positionals.length > 1) throw new UsageError('send takes exactly one <file> (or - for stdin)', SEND_USAGE)
  if (url === undefined) throw new UsageError('send needs --url (or AUDIT_STREAM_URL)', SEND_USAGE)
  if (!/^\d+$/.test(values['batch-size'])) throw new UsageError(`--batch-size must be a number, got ${values['batch-size']}`, SEND_USAGE)
  if (input !== '-') await access(input, constants.R_OK).catch(() => { throw new UsageError(`cannot read ${input}`, SEND_USAGE) })
  const logger = cliLogger('warn')
  const store = new AuditStore({
    sink: sinkFor(url, values, logger),
    batchSize: Number(values['batch-size']),
    logger,
    ...(values.openapi === undefined ? {} : { openapi: values.openapi }),
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
    `send ${failed === 0 ? 'complete' : 'incomplete'}: ${stats.accepted} events read, ${stats.written} stored in ${stats.batches} batches` +
      `${problems === '' ? '' : `; ${problems}`}\n`
  )
  return failed === 0 ? 0 : 1
}
