// Talking to the reference server's API. The token lives in this tab's
// sessionStorage only: never in the URL, localStorage or a cookie.

const TOKEN_KEY = 'audit-stream.token'

/** A refused request, with the server's problem document's words. */
export class ApiError extends Error {
  constructor (status, title, detail) {
    super(detail === '' ? title : `${title}: ${detail}`)
    this.name = 'ApiError'
    this.status = status
  }
}

export function getToken () {
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

export function setToken (token) {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

async function request (path, params) {
  const query = params === undefined ? '' : `?${params}`
  const headers = { accept: 'application/json, application/x-ndjson' }
  const token = getToken()
  if (token !== '') headers.authorization = `Bearer ${token}`
  let res
  try {
    res = await fetch(`${path}${query}`, { headers, credentials: 'omit', cache: 'no-store' })
  } catch (err) {
    throw new ApiError(0, 'Could not reach the server', err.message)
  }
  if (res.ok) return res
  // A problem+json body when the server sent one; a proxy's HTML error page has none.
  const problem = await res.json().catch(() => ({}))
  const title = typeof problem.title === 'string' ? problem.title : res.statusText
  const detail = typeof problem.detail === 'string' ? problem.detail : ''
  throw new ApiError(res.status, `${res.status} ${title}`, detail)
}

/** GET a JSON endpoint under /api/v1/audit/events. */
export async function getJson (path, params) {
  return (await request(path, params)).json()
}

/** The export of `params` as a Blob; the server streams it, the browser only saves it. */
export async function getExport (params) {
  return (await request('/api/v1/audit/events/export', params)).blob()
}
