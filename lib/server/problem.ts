/**
 * RFC 7807 problem responses, and the error that carries one out of a handler.
 * Writing a response never throws: a handler's last resort must not fail.
 */
import type { ServerResponse } from 'node:http'
import type { ProblemDocument } from '../errors.js'
import { PROBLEM_TYPE_PREFIX } from '../protocol/wire.js'

/** A request failure that becomes a problem+json response. @internal */
export class HttpProblem extends Error {
  readonly status: number
  readonly title: string
  readonly extra: Record<string, unknown>
  readonly headers: Record<string, string>

  constructor (status: number, title: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(detail)
    this.name = 'HttpProblem'
    this.status = status
    this.title = title
    this.extra = extra
    this.headers = headers
  }
}

const TYPES: Record<number, string> = {
  400: 'validation-error',
  401: 'unauthorized',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'payload-too-large',
  408: 'request-timeout',
  414: 'uri-too-long',
  415: 'unsupported-media-type',
  422: 'idempotency-conflict',
  431: 'request-header-fields-too-large',
  500: 'internal-error',
  503: 'service-unavailable'
}

/** The `type` URI of a problem with `status`. @internal */
export function problemType (status: number): string {
  return `${PROBLEM_TYPE_PREFIX}${TYPES[status] ?? 'error'}`
}

/** Writes `problem` as `application/problem+json`. Never throws. @internal */
export function sendProblem (res: ServerResponse, problem: HttpProblem): void {
  const body: ProblemDocument & Record<string, unknown> = {
    type: problemType(problem.status),
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...problem.extra
  }
  sendJson(res, problem.status, body, 'application/problem+json', problem.headers)
}

// What goes out when the intended body cannot be serialized: fixed text, so it cannot fail.
const UNSERIALIZABLE = JSON.stringify({
  type: problemType(500), title: 'Internal Server Error', status: 500, detail: 'the response could not be serialized'
})

/**
 * Writes a JSON response. Never throws: a body that cannot be serialized
 * (a cycle, a BigInt, nesting past the stack) becomes a fixed 500 problem,
 * and a response that has already started, or headers that Node refuses,
 * end the connection instead, since no well-formed answer is possible then.
 * @internal
 */
export function sendJson (res: ServerResponse, status: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (!res.writableEnded) res.destroy()
    return
  }
  let text: string
  try {
    text = JSON.stringify(body) ?? 'null'
  } catch {
    text = UNSERIALIZABLE
    status = 500
    contentType = 'application/problem+json'
    headers = {}
  }
  try {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  } catch {
    res.destroy()
  }
}
