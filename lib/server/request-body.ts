/**
 * Reading a request body as JSON within a size limit that applies to the
 * decoded bytes, so a small gzip bomb is refused like a large body.
 */
import type { IncomingMessage } from 'node:http'
import { createGunzip } from 'node:zlib'
import type { Readable } from 'node:stream'
import { HttpProblem } from './problem.js'

/**
 * The body parsed as JSON, and its decoded bytes (for the idempotency hash).
 * @internal
 * @throws {@link HttpProblem} 415 for a content type other than JSON or an
 *   unknown encoding, 413 past `limitBytes`, 400 for bad gzip or JSON
 */
export async function readJsonBody (req: IncomingMessage, limitBytes: number): Promise<{ value: unknown, raw: Buffer }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') {
    req.resume()
    throw new HttpProblem(415, 'Unsupported Media Type', `expected content-type application/json, got ${type === '' ? 'none' : type}`)
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip') {
    req.resume()
    throw new HttpProblem(415, 'Unsupported Media Type', `unsupported content-encoding ${encoding}`)
  }
  const declared = Number(req.headers['content-length'])
  if (encoding === 'identity' && Number.isFinite(declared) && declared > limitBytes) {
    req.resume()
    throw tooLarge(limitBytes)
  }
  const source: Readable = encoding === 'gzip' ? gunzipOf(req) : req
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length
      if (size > limitBytes) {
        if (source !== req) source.destroy()
        req.resume() // discard the rest so the 413 reaches the client
        throw tooLarge(limitBytes)
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (err instanceof HttpProblem) throw err
    req.resume()
    throw new HttpProblem(400, 'Bad Request', encoding === 'gzip' ? 'the gzip body could not be decoded' : 'the body could not be read')
  }
  const raw = Buffer.concat(chunks)
  try {
    return { value: JSON.parse(raw.toString('utf8')) as unknown, raw }
  } catch (err) {
    throw new HttpProblem(400, 'Bad Request', `malformed JSON: ${(err as Error).message}`)
  }
}

// pipe() does not pass on a client that went away: the gunzip would wait for the rest forever.
function gunzipOf (req: IncomingMessage): Readable {
  const gunzip = req.pipe(createGunzip())
  req.once('close', () => {
    if (!req.complete) gunzip.destroy(new Error('the client went away before the body was complete'))
  })
  return gunzip
}

function tooLarge (limitBytes: number): HttpProblem {
  return new HttpProblem(413, 'Payload Too Large', `the decoded body is over ${limitBytes} bytes`, {}, { connection: 'close' })
}
