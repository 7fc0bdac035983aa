/**
 * A real node:http (or https) server on 127.0.0.1 whose misbehaviour each
 * test scripts: a stand-in for a remote DataStorage service with faults.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type ServerOptions } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { gunzipSync } from 'node:zlib'

export interface RecordedRequest {
  readonly at: number
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  /** The header lines as sent, name and value alternating, duplicates kept. */
  readonly rawHeaders: readonly string[]
  /** The decoded body, parsed as JSON when it is. */
  readonly body: unknown
  readonly rawBytes: number
}

/** Decides the answer to one request; `n` counts requests from 0. */
export type Handler = (req: RecordedRequest, res: ServerResponse, n: number) => void | Promise<void>

export interface FaultServer {
  readonly url: string
  readonly port: number
  /** Every request but those to the trail notes endpoint. */
  readonly requests: RecordedRequest[]
  /** Requests to `POST /api/v1/audit/checkpoints`, answered 404 as kubernaut's DataStorage does (it keeps no notes). */
  readonly noteRequests: RecordedRequest[]
  handler: Handler
  close (): Promise<void>
}

export const created: Handler = (req, res) => {
  const count = Array.isArray(req.body) ? req.body.length : 1
  res.writeHead(201, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ event_ids: Array.from({ length: count }, (_, i) => `id-${i}`), message: 'created' }))
}

export function problem (res: ServerResponse, status: number, title: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers })
  res.end(JSON.stringify({ type: 'about:blank', title, status, ...extra }))
}

export async function startFaultServer (handler: Handler = created, options: { tls?: ServerOptions, port?: number } = {}): Promise<FaultServer> {
  const requests: RecordedRequest[] = []
  const noteRequests: RecordedRequest[] = []
  const state = { handler }
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let text = raw
      if (req.headers['content-encoding'] === 'gzip') text = gunzipSync(raw)
      let body: unknown = text.toString('utf8')
      try { body = JSON.parse(body as string) } catch { /* kept as text */ }
      const recorded: RecordedRequest = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body, rawBytes: raw.length }
      if (recorded.url.endsWith('/api/v1/audit/checkpoints')) {
        noteRequests.push(recorded)
        return problem(res, 404, 'Not Found')
      }
      const n = requests.length
      requests.push(recorded)
      Promise.resolve(state.handler(recorded, res, n)).catch(() => res.destroy())
    })
  }
  const server: Server = options.tls === undefined ? createHttpServer(onRequest) : createHttpsServer(options.tls, onRequest)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    noteRequests,
    get handler () { return state.handler },
    set handler (h: Handler) { state.handler = h },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}
