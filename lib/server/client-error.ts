/**
 * Answering a request that Node's HTTP parser refused (headers or URL over
 * `maxHeaderSize`, a malformed request line) instead of dropping the
 * connection without a word: the client learns what was wrong.
 */
import type { Duplex } from 'node:stream'
import { problemType } from './problem.js'

function reply (status: number, reason: string, detail: string): string {
  const body = JSON.stringify({ type: problemType(status), title: reason, status, detail })
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}

const HEADERS_TOO_LARGE = reply(431, 'Request Header Fields Too Large', 'the request line and headers are larger than the server accepts')
const BAD_REQUEST = reply(400, 'Bad Request', 'the request is not well-formed HTTP/1.1')
const TIMEOUT = reply(408, 'Request Timeout', 'the request was not received in time')
const ANSWERS: Record<string, string> = { HPE_HEADER_OVERFLOW: HEADERS_TOO_LARGE, ERR_HTTP_REQUEST_TIMEOUT: TIMEOUT }

/**
 * The server's `'clientError'` listener: a small problem response when the
 * socket can still take one, then the connection ends.
 * @internal
 */
export function answerClientError (err: Error & { code?: string }, socket: Duplex): void {
  // A response already under way cannot be followed by another without corrupting the stream;
  // one whose headers are not out yet (a body that turned out malformed) can still be replaced.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy()
    return
  }
  socket.end(ANSWERS[err.code ?? ''] ?? BAD_REQUEST)
}
