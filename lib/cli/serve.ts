/**
 * `audit-stream serve`.
 */
import { parseArgs } from 'node:util'
import { startDataStorageServer } from '../server/datastorage-server.js'
import { USAGE, UsageError, cliLogger, envValue } from './common.js'

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
      openapi: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (positionals.length > 0) throw new UsageError('serve takes no positional arguments')
  if (!/^\d+$/.test(values.port)) throw new UsageError(`--port must be a number, got ${values.port}`)
  const database = values.database ?? (envValue('DATABASE_URL') ?? 'memory://')
  const token = values.token ?? (envValue('AUDIT_STREAM_TOKEN'))
  const logger = cliLogger('info')
  const server = await startDataStorageServer({
    port: Number(values.port),
    host: values.host,
    database,
    logger,
    ...(token === undefined ? {} : { token }),
    ...(values.openapi === undefined ? {} : { openapi: values.openapi })
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
