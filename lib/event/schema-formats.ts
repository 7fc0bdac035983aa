/**
 * The formats an event schema may use, with their checks: JSON Schema's and
 * OpenAPI 3.0's. Both ajv (lib/event/compiled-event-schema.ts) and the
 * OpenAPI conversion (lib/event/openapi-schema.ts) read this one table, so a
 * format is accepted in a document exactly when it is checked.
 */
import { isIP } from 'node:net'
import { isDateTime } from './date-time.js'
import { INT32_MAX, INT32_MIN, UUID } from '../protocol/wire.js'

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const EMAIL = /^[^\s@]+@[^\s@]+$/
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i

/**
 * The formats an event schema may use: JSON Schema's and OpenAPI 3.0's.
 * Any other format is refused when the schema is compiled.
 * @internal
 */
export const FORMATS: Readonly<Record<string, { type: 'string', validate: (s: string) => boolean } | { type: 'number', validate: (n: number) => boolean }>> = {
  'date-time': { type: 'string', validate: isDateTime },
  date: {
    type: 'string',
    validate: (s) => {
      const m = DATE.exec(s)
      return m !== null && Number(m[1]) >= 1 && isDateTime(`${s}T00:00:00Z`)
    }
  },
  uuid: { type: 'string', validate: (s) => UUID.test(s) },
  email: { type: 'string', validate: (s) => EMAIL.test(s) },
  hostname: { type: 'string', validate: (s) => HOSTNAME.test(s) },
  ipv4: { type: 'string', validate: (s) => isIP(s) === 4 },
  ipv6: { type: 'string', validate: (s) => isIP(s) === 6 },
  uri: { type: 'string', validate: (s) => URL.canParse(s) },
  byte: { type: 'string', validate: (s) => BASE64.test(s) },
  binary: { type: 'string', validate: () => true },
  password: { type: 'string', validate: () => true },
  int32: { type: 'number', validate: (n) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX },
  int64: { type: 'number', validate: (n) => Number.isInteger(n) },
  float: { type: 'number', validate: (n) => Number.isFinite(n) },
  double: { type: 'number', validate: (n) => Number.isFinite(n) }
}
