/**
 * `audit-stream serve`.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startDataStorageServer } from '../server/index.js'
import { UsageError, cliLogger, envValue } from './common.js'

/** @internal */
export const SERVE_USAGE = `Usage: audit-stream serve [options]

Runs the reference DataStorage server until SIGINT or SIGTERM (a second
signal exits at once). Needs the optional peer @electric-sql/pglite (memory://
or a directory) or pg (a postgres:// URL).

Options:
  --port <n>            port to listen on (default 8080; 0 picks a free one)
  --host <address>      address to listen on (default 127.0.0.1)
  --database <where>    memory:// (default), a directory for PGlite on disk,
                        or a postgres:// URL (or DATABASE_URL)
  --token <token>       require this bearer token (or AUDIT_STREAM_TOKEN)
  --max-batch-items <n> most events in one batch request (default 10000)
  --body-limit <bytes>  largest body after gzip decoding (default 8388608)
  --retention-months <n> drop monthly partitions of events older than n
                        months, on start and daily (default: keep all)
  --openapi <file>      an OpenAPI 3.0 document (.yaml or .json) whose
                        AuditEventRequest is the event schema
  --trail-public-key <pem file>
                        trust checkpoints and skips signed by this Ed25519
                        public key (repeatable); without it, each producer's
                        first signed note pins its key
  --no-ui               do not serve the trail browser page at /ui
  -h, --help            show this help
`

/** @internal */
export async function serve (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      database: { type: 'string' },
      token: { type: 'string' },
      'max-batch-items': { type: 'string' },
      'body-limit': { type: 'string' },
      'retention-months': { type: 'string' },
      openapi: { type: 'string' },
      'trail-public-key': { type: 'string', multiple: true },
      'no-ui': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(SERVE_USAGE)
    return 0
  }
  if (positionals.length > 0) throw new UsageError('serve takes no positional arguments', SERVE_USAGE)
  if (!/^\d+$/.test(values.port)) throw new UsageError(`--port must be a number, got ${values.port}`, SERVE_USAGE)
  const limits: { maxBatchItems?: number, bodyLimitBytes?: number, retentionMonths?: number } = {}
  for (const [flag, option] of [['max-batch-items', 'maxBatchItems'], ['body-limit', 'bodyLimitBytes'], ['retention-months', 'retentionMonths']] as const) {
    const value = values[flag]
    if (value === undefined) continue
    if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a number, got ${value}`, SERVE_USAGE)
    limits[option] = Number(value)
  }
  const database = values.database ?? (envValue('DATABASE_URL') ?? 'memory://')
  const token = values.token ?? (envValue('AUDIT_STREAM_TOKEN'))
  const trailPublicKeys = (values['trail-public-key'] ?? []).map((file) => {
    try {
      return readFileSync(file, 'utf8')
    } catch (err) {
      throw new UsageError(`--trail-public-key ${file}: ${(err as Error).message}`, SERVE_USAGE)
    }
  })
  const logger = cliLogger('info')
  const server = await startDataStorageServer({
    port: Number(values.port),
    host: values.host,
    database,
    logger,
    ...limits,
    ...(token === undefined ? {} : { token }),
    ...(values.openapi === undefined ? {} : { openapi: values.openapi }),
    ...(trailPublicKeys.length === 0 ? {} : { trailPublicKeys }),
    ui: !values['no-ui']
  })
  process.stdout.write(`audit-stream serve: listening on ${server.url} (${server.engine})\n`)
  if (server.uiUrl !== undefined) process.stdout.write(`audit-stream serve: trail browser at ${server.uiUrl}\n`)
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
