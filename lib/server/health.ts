/**
 * The health endpoints, answered without a token, as a load balancer or
 * Kubernetes probes them: `/health/live` while the process is up,
 * `/health/ready` (and its alias `/health`) while the database answers and
 * the server is not shutting down.
 */
import type { Database } from './database.js'
import { HEALTH_PATH, LIVE_PATH, READY_PATH } from '../protocol/wire.js'

/** Paths of the health endpoints. @internal */
export const HEALTH_PATHS: ReadonlySet<string> = new Set([HEALTH_PATH, READY_PATH, LIVE_PATH])

/** A health answer: status code and JSON body. @internal */
export interface HealthAnswer {
  readonly statusCode: number
  readonly body: Record<string, unknown>
}

/**
 * Answers a health path. Readiness fails once shutdown has begun, so that a
 * load balancer drains the server before it stops accepting. The database's
 * error text is never part of the answer.
 * @internal
 */
export async function health (path: string, db: Database, shuttingDown: () => boolean): Promise<HealthAnswer> {
  if (path === LIVE_PATH) return { statusCode: 200, body: { status: 'healthy' } }
  if (shuttingDown()) return { statusCode: 503, body: { status: 'unhealthy', database: db.engine, error: 'shutting down' } }
  try {
    await db.query('SELECT 1')
    return { statusCode: 200, body: { status: 'healthy', database: db.engine } }
  } catch {
    return { statusCode: 503, body: { status: 'unhealthy', database: db.engine, error: 'database unreachable' } }
  }
}
