/**
 * RFC 7807 problem responses, and the error that carries one out of a handler.
 */
import type { ServerResponse } from 'node:http'
import type { ProblemDocument } from '../errors.js'

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
  415: 'unsupported-media-type',
  422: 'idempotency-conflict',
  500: 'internal-error',
  503: 'unavailable'
}

/** Writes `problem` as `application/problem+json`. @internal */
export function sendProblem (res: ServerResponse, problem: HttpProblem): void {
  const body: ProblemDocument & Record<string, unknown> = {
    type: `urn:audit-stream:problem:${TYPES[problem.status] ?? 'error'}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...problem.extra
  }
  sendJson(res, problem.status, body, 'application/problem+json', problem.headers)
}

/** Writes a JSON response. @internal */
export function sendJson (res: ServerResponse, status: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}
