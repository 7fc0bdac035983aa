/**
 * What the commands share: the usage text, the usage error, the logger and
 * the DataStorage sink built from the command line.
 */
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { DataStorageSink } from '../sinks/datastorage-sink.js'

/** @internal */
export const USAGE = `Usage: audit-stream <command> [options]

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
  --max-batch-items <n> most events in one batch request (default 10000)
  --body-limit <bytes>  largest body after gzip decoding (default 8388608)

Options for replay:
  --url <url>           the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>       bearer token
  --token-file <path>   file holding the bearer token, re-read after a 401
  --include-invalid     also resend entries dead-lettered as invalid
  -h, --help            show this help

Exit codes: 0 all stored, 1 some dead-lettered or lost, 2 bad usage.
`

/** A command line that cannot run as given: exit code 2. @internal */
export class UsageError extends Error {}

/** @internal */
export function envValue (name: string): string | undefined {
  const value = process.env[name]
  return value === undefined || value === '' ? undefined : value
}

// pino, pretty-printed on a terminal, JSON lines otherwise; on stderr either way.
/** @internal */
export function cliLogger (level: string): Logger {
  const options = { name: 'audit-stream', level: process.env.AUDIT_STREAM_LOG_LEVEL ?? level }
  if (process.stderr.isTTY === true) return pino(options, pretty({ destination: 2, sync: true, colorize: true }))
  return pino(options, pino.destination({ dest: 2, sync: true }))
}

/** @internal */
export function sinkFor (url: string, values: { token?: string | undefined, 'token-file'?: string | undefined }, logger: Logger): DataStorageSink {
  return new DataStorageSink({
    url,
    logger,
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] })
  })
}
