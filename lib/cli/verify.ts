/**
 * `audit-stream verify`: verifies a server's trails independently of it.
 * Fetches each lane's stored events and notes (`GET /api/v1/audit/lanes`,
 * `GET /api/v1/audit/chain`), recomputes the chain locally with
 * {@link verifyChain} under the given public key, and, with `--checkpoints`,
 * holds the server to the notes kept locally: a server can drop its newest
 * rows and notes together, which only a copy kept elsewhere shows.
 */
import { readFileSync } from 'node:fs'
import type { KeyObject } from 'node:crypto'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { parseNote, parseNotes } from '../chain/parse-note.js'
import { publicKeyOf, noteVerifies } from '../chain/note-signature.js'
import type { ParsedNote } from '../chain/signed-note.js'
import { verifyChain, type ChainRow, type VerifyResult } from '../chain/verify-chain.js'
import { SINK_ARGS, UsageError, envValue } from './common.js'
import { CHAIN_PATH, LANES_PATH, UUID } from '../protocol/wire.js'

/** @internal */
export const VERIFY_USAGE = `Usage: audit-stream verify --url <url> --public-key <pem file> [options]

Verifies the stored trails of a DataStorage service without trusting it:
fetches each lane's events and signed notes, recomputes the hash chain over
the exact bytes received, checks every served event against those bytes and
every checkpoint against the chain, and prints one line per lane (and per
skipped, dead-lettered range).

Options:
  --url <url>                the DataStorage service (or AUDIT_STREAM_URL)
  --token <token>            bearer token
  --token-file <path>        file holding the bearer token
  --public-key <pem file>    the producers' Ed25519 public key (SPKI PEM)
  --correlation-id <id>      only the lanes holding this correlation id's events
  --producer-id <uuid>       only this producer's lane (with --lane)
  --lane <n>                 only this lane (with --producer-id)
  --checkpoints <file>       notes kept locally (the store's trail.file): each
                             must be on the server, and the server's chain
                             must verify through it
  -h, --help                 show this help

Exit codes: 0 every lane verified (skips are listed, not failures), 1 a lane
failed (the first bad seq and why are named) or the server could not be read,
2 bad usage.
`

/** The contract's maximum page: fewest round trips. */
const PAGE_LIMIT = 10_000

interface LaneRef { readonly producerId: string, readonly lane: number, readonly lastSeq: number }

interface Failure { readonly seq: number, readonly reason: string, readonly detail: string }

/** Where verify writes: the process's stdout and stderr, or a test's collector. @internal */
export interface VerifyOutput {
  readonly stdout: { write: (text: string) => unknown }
  readonly stderr: { write: (text: string) => unknown }
}

/** @internal */
export async function verify (args: string[], out: VerifyOutput = process): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      ...SINK_ARGS,
      'public-key': { type: 'string' },
      'correlation-id': { type: 'string' },
      'producer-id': { type: 'string' },
      lane: { type: 'string' },
      checkpoints: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    out.stdout.write(VERIFY_USAGE)
    return 0
  }
  const url = values.url ?? envValue('AUDIT_STREAM_URL')
  if (url === undefined) throw new UsageError('verify needs --url (or AUDIT_STREAM_URL)', VERIFY_USAGE)
  if (values['public-key'] === undefined) throw new UsageError('verify needs --public-key <pem file>', VERIFY_USAGE)
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both', VERIFY_USAGE)
  const only = laneFilter(values['producer-id'], values.lane)
  const key = publicKeyOf(readText(values['public-key'], '--public-key'))
  const token = values['token-file'] !== undefined ? readText(values['token-file'], '--token-file').trim() : values.token
  const local = values.checkpoints === undefined ? undefined : parseNotes(readText(values.checkpoints, '--checkpoints'))

  const server = new Server(url, token)
  const correlationId = values['correlation-id']
  let lanes = await server.lanes(correlationId)
  if (only !== undefined) {
    lanes = lanes.filter((l) => l.producerId === only.producerId && l.lane === only.lane)
    if (lanes.length === 0) lanes = [{ ...only, lastSeq: 0 }]
  }
  // Lanes the local notes know of must be on the server too: a server could drop a whole lane.
  if (local !== undefined && correlationId === undefined) {
    for (const { note } of local) {
      if (only !== undefined && (note.producerId !== only.producerId || note.lane !== only.lane)) continue
      if (!lanes.some((l) => l.producerId === note.producerId && l.lane === note.lane)) lanes.push({ producerId: note.producerId, lane: note.lane, lastSeq: 0 })
    }
  }
  if (lanes.length === 0) {
    out.stdout.write(correlationId === undefined ? 'no lanes on the server\n' : `no lanes hold correlation id ${correlationId}\n`)
    return 0
  }

  let firstFailure: string | undefined
  for (const ref of lanes) {
    const { rows, notes } = await server.chain(ref)
    const { parsed, malformed } = parseServerNotes(notes)
    const to = Math.max(ref.lastSeq, highest(rows, parsed, ref))
    const result = verifyChain({ producerId: ref.producerId, lane: ref.lane, rows, notes: parsed, publicKeys: [key], to })
    const failure = firstFailureOf(result, malformed, local === undefined ? [] : localCheck(local, ref, parsed, result, key))
    out.stdout.write(laneLine(ref, result, failure))
    for (const skip of result.skips) out.stdout.write(`  skip ${skip.from}..${skip.to} (${skip.reason})\n`)
    if (failure !== undefined) firstFailure ??= `lane ${ref.producerId}/${ref.lane} fails at seq ${failure.seq} (${failure.reason}: ${failure.detail})`
  }
  if (firstFailure !== undefined) {
    out.stderr.write(`audit-stream: verification failed: ${firstFailure}\n`)
    return 1
  }
  return 0
}

function laneFilter (producerId: string | undefined, lane: string | undefined): { producerId: string, lane: number } | undefined {
  if (producerId === undefined && lane === undefined) return undefined
  if (producerId === undefined || lane === undefined) throw new UsageError('--producer-id and --lane go together', VERIFY_USAGE)
  if (!UUID.test(producerId)) throw new UsageError(`--producer-id is not a UUID: ${producerId}`, VERIFY_USAGE)
  if (!/^(0|[1-9][0-9]{0,9})$/.test(lane) || Number(lane) > 0xffffffff) throw new UsageError(`--lane is not a lane number: ${lane}`, VERIFY_USAGE)
  return { producerId: producerId.toLowerCase(), lane: Number(lane) }
}

function readText (file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${option} ${file}: ${(err as Error).message}`, VERIFY_USAGE)
  }
}

// A note the server serves that does not parse is a tampered store: it fails the lane.
function parseServerNotes (texts: readonly string[]): { parsed: ParsedNote[], malformed: number } {
  const parsed: ParsedNote[] = []
  let malformed = 0
  for (const text of texts) {
    try {
      parsed.push(parseNote(text))
    } catch {
      malformed++
    }
  }
  return { parsed, malformed }
}

function highest (rows: readonly ChainRow[], notes: readonly ParsedNote[], ref: LaneRef): number {
  let max = 0
  for (const row of rows) if (Number.isSafeInteger(row.seq) && row.seq > max) max = row.seq
  for (const { note } of notes) {
    if (note.producerId !== ref.producerId || note.lane !== ref.lane) continue
    max = Math.max(max, note.kind === 'checkpoint' ? note.seq : note.to)
  }
  return max
}

/**
 * What the local notes demand of this lane: each must be among the server's
 * notes, and the server's chain must verify through its seq.
 */
function localCheck (local: readonly ParsedNote[], ref: LaneRef, served: readonly ParsedNote[], result: VerifyResult, key: KeyObject): Failure[] {
  const texts = new Set(served.map((n) => n.text))
  const failures: Failure[] = []
  const proven = result.verified_through
  for (const n of local) {
    const { note } = n
    if (note.producerId !== ref.producerId || note.lane !== ref.lane) continue
    const seq = note.kind === 'checkpoint' ? note.seq : note.to
    const what = note.kind === 'checkpoint' ? `local checkpoint at seq ${seq}` : `local skip ${note.from}..${note.to}`
    if (!noteVerifies(n, key)) failures.push({ seq: proven + 1, reason: 'signature', detail: `${what} is not signed by --public-key` })
    else if (!texts.has(n.text)) failures.push({ seq: proven + 1, reason: 'missing', detail: `${what} is not on the server` })
    else if (seq > proven) failures.push({ seq: proven + 1, reason: 'missing', detail: `the server's chain verifies only through seq ${proven}, short of ${what}` })
  }
  return failures
}

function firstFailureOf (result: VerifyResult, malformed: number, local: readonly Failure[]): Failure | undefined {
  const all: Failure[] = [...local]
  if (result.first_bad_seq !== undefined) all.push({ seq: result.first_bad_seq, reason: result.reason ?? 'altered', detail: result.detail ?? '' })
  if (malformed > 0) all.push({ seq: result.verified_through + 1, reason: 'signature', detail: `${malformed} note(s) served by the server do not parse` })
  return all.sort((a, b) => a.seq - b.seq)[0]
}

function laneLine (ref: LaneRef, result: VerifyResult, failure: Failure | undefined): string {
  const head = `lane ${ref.producerId}/${ref.lane}: verified_through ${result.verified_through} of ${result.to}, skips ${result.skips.length}, checkpoints ${result.checkpoints}`
  if (failure !== undefined) return `${head}, FAILED at seq ${failure.seq}: ${failure.reason} (${failure.detail})\n`
  // Chained but not yet covered by a signed checkpoint: not bad, not proven either.
  if (result.verified_through < result.chained_through) return `${head}, seqs ${result.verified_through + 1}..${result.chained_through} not anchored by a checkpoint yet\n`
  return `${head}\n`
}

/** The server's trail endpoints, read with undici. */
class Server {
  readonly #base: string
  readonly #headers: Record<string, string>

  constructor (url: string, token: string | undefined) {
    this.#base = url.replace(/\/+$/, '')
    this.#headers = { accept: 'application/json', ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }) }
  }

  async lanes (correlationId: string | undefined): Promise<LaneRef[]> {
    const query = correlationId === undefined ? '' : `?${new URLSearchParams({ correlation_id: correlationId }).toString()}`
    const body = await this.#get(LANES_PATH + query)
    const lanes = (body as { lanes?: unknown }).lanes
    if (!Array.isArray(lanes)) throw new Error(`${LANES_PATH}: the answer has no lanes array`)
    return lanes.map((l: { producer_id?: unknown, lane?: unknown, last_seq?: unknown }) => {
      if (typeof l?.producer_id !== 'string' || !UUID.test(l.producer_id) || !Number.isSafeInteger(l.lane) || (l.lane as number) < 0) {
        throw new Error(`${LANES_PATH}: a lane without a valid producer_id and lane`)
      }
      return { producerId: l.producer_id.toLowerCase(), lane: l.lane as number, lastSeq: Number.isSafeInteger(l.last_seq) ? l.last_seq as number : 0 }
    })
  }

  /** Every stored row of the lane, page by page, and the lane's notes. */
  async chain (ref: LaneRef): Promise<{ rows: ChainRow[], notes: string[] }> {
    const rows: ChainRow[] = []
    let notes: string[] = []
    let from = 1
    for (;;) {
      const query = new URLSearchParams({ producer_id: ref.producerId, lane: String(ref.lane), from: String(from), limit: String(PAGE_LIMIT) })
      const body = await this.#get(`${CHAIN_PATH}?${query.toString()}`) as { events?: unknown, notes?: unknown, next?: unknown }
      if (!Array.isArray(body.events) || !Array.isArray(body.notes)) throw new Error(`${CHAIN_PATH}: the answer has no events and notes arrays`)
      notes = body.notes.filter((n): n is string => typeof n === 'string')
      const next = body.next
      if (next === undefined) {
        rows.push(...body.events as ChainRow[])
        return { rows, notes }
      }
      // Paging must move forward, or a hostile server could keep us here.
      if (typeof next !== 'number' || !Number.isSafeInteger(next) || next <= from) throw new Error(`${CHAIN_PATH}: paging did not move past seq ${from}`)
      // Rows at `next` come again on the next page (several rows may claim one seq).
      rows.push(...(body.events as ChainRow[]).filter((r) => !(typeof r?.seq === 'number' && r.seq >= next)))
      from = next
    }
  }

  async #get (path: string): Promise<unknown> {
    const res = await request(this.#base + path, { method: 'GET', headers: this.#headers })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`GET ${path.split('?')[0]!} answered HTTP ${res.statusCode}`)
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new Error(`GET ${path.split('?')[0]!} answered something that is not JSON`)
    }
  }
}
