/**
 * A small node:http service that records an audit event for every request.
 * record() never blocks a request; installShutdownHandler delivers what is
 * pending on SIGTERM/SIGINT before the process exits.
 *
 *   PORT=3000 node --import tsx examples/http-service.ts
 *
 * AUDIT_DATASTORAGE_URL points it at a DataStorage service; without it an
 * embedded reference server is started.
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DataStorageSink, createAuditStore, installShutdownHandler, newAuditEvent } from '../lib/index.js'
import { startDataStorageServer } from '../lib/server/index.js'

const url = process.env.AUDIT_DATASTORAGE_URL ?? (await startDataStorageServer()).url
const store = createAuditStore({ sink: new DataStorageSink({ url }) })
installShutdownHandler(store, { timeoutMs: 10_000 })

const server = createServer((req, res) => {
  const started = performance.now()
  const requestId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()
  res.on('finish', () => {
    // record() never waits: a full buffer drops the event (counted in stats) instead of slowing the request.
    // An event kubernaut's DataStorage accepts: an API frontend tool call (ApifrontendToolExecutedPayload).
    const durationMs = Math.round(performance.now() - started)
    store.record(newAuditEvent({
      event_type: 'apifrontend.tool.executed',
      event_category: 'apifrontend',
      event_action: 'executed',
      event_outcome: res.statusCode < 400 ? 'success' : 'failure',
      correlation_id: requestId,
      actor_type: 'client',
      actor_ip: req.socket.remoteAddress ?? 'unknown',
      resource_type: 'path',
      resource_id: (req.url ?? '/').split('?')[0]!,
      duration_ms: durationMs,
      event_data: {
        event_type: 'apifrontend.tool.executed',
        session_id: requestId,
        tool_name: `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]!}`,
        execution_duration_ms: durationMs,
        tool_outcome: res.statusCode < 400 ? 'success' : 'failure'
      }
    }))
  })
  res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', 'x-request-id': requestId })
  res.end(JSON.stringify({ ok: req.url !== '/missing', requestId }))
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
