/**
 * `audit-stream spool inspect`: what a spool directory holds, read without
 * changing it (recovery cuts a damaged tail; inspecting only reports it).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readFloor } from '../spool/floor.js'
import { lockHolder } from '../files/dir-lock.js'
import { LOCK_FILE } from '../spool/spool.js'
import { readFrame } from '../spool/record-format.js'
import { segmentIndex } from '../spool/segment-name.js'
import { UsageError } from './common.js'
import { spoolDrain } from './spool-drain.js'

/** @internal */
export const SPOOL_USAGE = `Usage: audit-stream spool inspect <dir> [options]
       audit-stream spool drain <dir> --url <url> [options]

Prints what the spool directory <dir> of a store holds: the lock, the
floor (every event below it is settled; kept in the file checkpoint), each
segment with its events and batch cuts, the events still pending (at or
above the floor) and the bytes of a damaged tail.
Nothing in <dir> is changed: the next store cuts the damage when it opens it.

Options:
  --json       print one JSON object instead of text
  -h, --help   show this help

spool drain sends the events pending in <dir> of a store whose process has
ended; run audit-stream spool drain --help for its options.

Exit codes: 0 inspected, 1 <dir> is not a readable spool, 2 bad usage.
`

/** What one segment holds. @internal */
export interface SegmentReport {
  readonly name: string
  readonly bytes: number
  readonly events: number
  /** Events at or above the floor. */
  readonly pending: number
  readonly batches: number
  /** Bytes from the first bad frame to the end of the file. */
  readonly corruptBytes: number
  readonly corruptEvents: number
}

/** The report of `spool inspect`. @internal */
export interface SpoolReport {
  readonly dir: string
  /** The pid in the lock file, if there is one. */
  readonly lockPid: number | undefined
  /** The floor: every event below it is settled; 0 when there is none; `undefined` when its file is damaged (then everything is pending). */
  readonly floor: number | undefined
  /** The same as `floor`, under the name of its file, for scripts that read `--json`. */
  readonly checkpoint: number | undefined
  readonly segments: SegmentReport[]
  readonly events: number
  readonly pending: number
  readonly batches: number
  readonly corruptBytes: number
  readonly corruptEvents: number
}

const SEGMENT_NAME = /^segment-\d{10,}\.log$/

/**
 * Reads a spool directory without changing it.
 * @internal
 */
export function inspectSpool (dir: string): SpoolReport {
  if (!statSync(dir).isDirectory()) throw new Error(`not a directory: ${dir}`)
  const stored = readFloor(dir)
  const floor = stored ?? 0
  const lockPath = join(dir, LOCK_FILE)
  const lockPid = existsSync(lockPath) ? lockHolder(lockPath)?.pid : undefined
  const segments: SegmentReport[] = []
  for (const name of readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort((a, b) => segmentIndex(a) - segmentIndex(b))) {
    const buffer = readFileSync(join(dir, name))
    let offset = 0
    let events = 0
    let pending = 0
    let batches = 0
    let corruptBytes = 0
    let corruptEvents = 0
    while (offset < buffer.length) {
      const frame = readFrame(buffer, offset)
      if (!frame.ok) {
        corruptBytes = buffer.length - offset
        corruptEvents = frame.events
        break
      }
      const record = frame.record
      if (record.kind === 'run') {
        events += record.count
        pending += Math.max(0, record.firstSeq + record.count - Math.max(record.firstSeq, floor))
      } else {
        batches++
      }
      offset = frame.end
    }
    segments.push({ name, bytes: buffer.length, events, pending, batches, corruptBytes, corruptEvents })
  }
  const sum = (key: 'events' | 'pending' | 'batches' | 'corruptBytes' | 'corruptEvents'): number => segments.reduce((n, s) => n + s[key], 0)
  return {
    dir, lockPid, floor: stored, checkpoint: stored, segments,
    events: sum('events'), pending: sum('pending'), batches: sum('batches'), corruptBytes: sum('corruptBytes'), corruptEvents: sum('corruptEvents')
  }
}

function text (report: SpoolReport): string {
  const lines = [`spool ${report.dir}`]
  lines.push(`lock: ${report.lockPid === undefined ? 'none' : `pid ${report.lockPid}`}`)
  lines.push(`floor: ${report.floor === undefined ? 'damaged (every spooled event is pending)' : String(report.floor)}`)
  for (const s of report.segments) {
    lines.push(`${s.name}: ${s.bytes} bytes, ${s.events} events (${s.pending} pending), ${s.batches} batch cuts` +
      (s.corruptBytes > 0 ? `, ${s.corruptBytes} corrupt bytes (${s.corruptEvents} events)` : ''))
  }
  lines.push(`${report.segments.length} segments, ${report.events} events, ${report.pending} pending, ${report.batches} batch cuts, ` +
    `${report.corruptBytes} corrupt bytes (${report.corruptEvents} events)`)
  return lines.join('\n') + '\n'
}

/** @internal */
export async function spool (args: string[]): Promise<number> {
  if (args[0] === 'drain') return await spoolDrain(args.slice(1))
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(SPOOL_USAGE)
    return 0
  }
  const [sub, dir, ...more] = positionals
  if (sub !== 'inspect') throw new UsageError(sub === undefined ? 'spool needs a subcommand: inspect or drain' : `unknown spool subcommand: ${sub}`, SPOOL_USAGE)
  if (dir === undefined || more.length > 0) throw new UsageError('spool inspect takes exactly one <dir>', SPOOL_USAGE)
  let report: SpoolReport
  try {
    report = inspectSpool(dir)
  } catch (err) {
    process.stderr.write(`audit-stream: cannot inspect ${dir}: ${(err as Error).message}\n`)
    return 1
  }
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : text(report))
  return 0
}
