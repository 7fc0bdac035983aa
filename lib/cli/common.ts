/**
 * What the commands share: the usage text, the usage error, the logger and
 * the DataStorage sink built from the command line.
 */
import { createRequire } from 'node:module'
import { pino, type DestinationStream, type Logger } from 'pino'
import { DataStorageSink } from '../sinks/datastorage-sink.js'

/** @internal */
export const USAGE = `Usage: audit-stream <command> [options]

Commands:
  send <file|->   send the JSONL events of a file (or stdin) to DataStorage
  replay <dir>    resend the events of the dead-letter files in <dir>
  serve           run the reference DataStorage server (needs @electric-sql/pglite or pg)
  spool inspect <dir>  print what a store's spool directory holds (segments, pending, damage)
  spool drain <dir>    send the events left in the spool of a store whose process has ended
  verify          recompute and check a server's trails (hash chains, signed checkpoints)

Run audit-stream <command> --help for a command's options.

Environment: AUDIT_STREAM_URL (the --url of send, replay, spool drain and verify),
AUDIT_STREAM_LOG_LEVEL (default warn; info for serve).
Exit codes: 0 all stored (verify: all verified), 1 some dead-lettered or lost
(verify: a lane failed), 2 bad usage.
`

/** A command line that cannot run as given: exit code 2, with the usage of `usage`. @internal */
export class UsageError extends Error {
  readonly usage: string

  constructor (message: string, usage: string = USAGE) {
    super(message)
    this.usage = usage
  }
}

/** @internal */
export function envValue (name: string): string | undefined {
  const value = process.env[name]
  return value === undefined || value === '' ? undefined : value
}

type PrettyFactory = (options: { destination: number, sync: boolean, colorize: boolean }) => DestinationStream

// pino-pretty is an optional peer: without it a terminal gets JSON lines too.
function loadPretty (): PrettyFactory | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as PrettyFactory
  } catch {
    return undefined
  }
}

// pino, pretty-printed on a terminal when pino-pretty is installed, JSON lines otherwise; on stderr either way.
/** @internal */
export function cliLogger (level: string): Logger {
  const options = { name: 'audit-stream', level: process.env.AUDIT_STREAM_LOG_LEVEL ?? level }
  const pretty = process.stderr.isTTY === true ? loadPretty() : undefined
  if (pretty !== undefined) return pino(options, pretty({ destination: 2, sync: true, colorize: true }))
  return pino(options, pino.destination({ dest: 2, sync: true }))
}

/** The parseArgs options of every command that sends to DataStorage, read by {@link sinkFor}. @internal */
export const SINK_ARGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' }
} as const

/** @internal */
export function sinkFor (url: string, values: { token?: string | undefined, 'token-file'?: string | undefined }, logger: Logger): DataStorageSink {
  return new DataStorageSink({
    url,
    logger,
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] })
  })
}
