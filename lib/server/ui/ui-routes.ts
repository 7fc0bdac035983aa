/**
 * The trail browser's static page: `/ui`, `/ui/events/<event_id>` (the same
 * page; its script reads the path) and `/ui/assets/<file>`. The page loads
 * without credentials; every data request it makes carries the API's bearer
 * token. The assets ship in the package next to this module (`assets/`),
 * are read once at start and served from memory, and only the files found
 * there can be named: no path from a request ever reaches the file system.
 */
import { readdir, readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** A file of the page, read at start. @internal */
interface Asset {
  readonly body: Buffer
  readonly contentType: string
}

/** The page's files by name. @internal */
export type UiAssets = ReadonlyMap<string, Asset>

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

// No inline script or style anywhere: the page's own files, its own API, nothing else, never framed.
const HEADERS = Object.freeze({
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache'
})

const ASSET_PREFIX = '/ui/assets/'

/**
 * Reads the page's files from `lib/server/ui/assets` (or `dist/server/ui/assets` once built).
 * @internal
 */
export async function loadUiAssets (dir = new URL('./assets/', import.meta.url)): Promise<UiAssets> {
  const assets = new Map<string, Asset>()
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const type = TYPES[entry.name.slice(entry.name.lastIndexOf('.'))]
    if (!entry.isFile() || type === undefined) continue
    assets.set(entry.name, { body: await readFile(new URL(entry.name, dir)), contentType: type })
  }
  if (!assets.has('index.html')) throw new Error(`the trail browser's index.html is missing from ${dir.href}`)
  return assets
}

/** Whether `pathname` is the page's. @internal */
export function isUiPath (pathname: string): boolean {
  return pathname === '/ui' || pathname.startsWith('/ui/')
}

/**
 * Answers a GET or HEAD of a page path: the page, one of its files, or 404.
 * @internal
 */
export function serveUi (req: IncomingMessage, res: ServerResponse, pathname: string, assets: UiAssets): void {
  const name = pathname.startsWith(ASSET_PREFIX)
    ? pathname.slice(ASSET_PREFIX.length)
    : (pathname === '/ui' || pathname === '/ui/' || /^\/ui\/events\/[^/]{1,100}$/.test(pathname)) ? 'index.html' : undefined
  const asset = name === undefined ? undefined : assets.get(name)
  if (asset === undefined) {
    res.writeHead(404, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8' })
    res.end(req.method === 'HEAD' ? undefined : 'Not Found\n')
    return
  }
  res.writeHead(200, { ...HEADERS, 'content-type': asset.contentType, 'content-length': asset.body.length })
  res.end(req.method === 'HEAD' ? undefined : asset.body)
}
