#!/usr/bin/env node
/**
 * The `audit-stream` command line. Environment variables are read here, in
 * the commands, and nowhere else.
 */
import { AuditStoreError } from '../errors.js'
import { USAGE, UsageError } from './common.js'
import { REPLAY_USAGE, replay } from './replay.js'
import { SEND_USAGE, send } from './send.js'
import { SERVE_USAGE, serve } from './serve.js'
import { SPOOL_USAGE, spool } from './spool.js'
import { VERIFY_USAGE, verify } from './verify.js'

const COMMAND_USAGE: Readonly<Record<string, string>> = { send: SEND_USAGE, replay: REPLAY_USAGE, serve: SERVE_USAGE, spool: SPOOL_USAGE, verify: VERIFY_USAGE }

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
    if (command === 'spool') return await spool(rest)
    if (command === 'verify') return await verify(rest)
    throw new UsageError(`unknown command: ${command}`)
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true || (err instanceof AuditStoreError && err.code === 'AUDIT_ERR_INVALID_OPTION')) {
      const usage = err instanceof UsageError ? err.usage : COMMAND_USAGE[command ?? ''] ?? USAGE
      process.stderr.write(`audit-stream: ${(err as Error).message}\n\n${usage}`)
      return 2
    }
    process.stderr.write(`audit-stream: ${(err as Error).message}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
