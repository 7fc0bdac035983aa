/**
 * Process exit hooks that hold their object weakly, through pino's
 * on-exit-leak-free: a store that is garbage-collected is forgotten, and a
 * hook never keeps a store (or the process) alive.
 */
import { createRequire } from 'node:module'

interface OnExitLeakFree {
  register<T extends object>(obj: T, fn: (obj: T, event: string) => void): void
  registerBeforeExit<T extends object>(obj: T, fn: (obj: T, event: string) => void): void
  unregister(obj: object): void
}

const onExit = createRequire(import.meta.url)('on-exit-leak-free') as OnExitLeakFree

/**
 * Calls `fn(obj)` on the process's `exit` event, while `obj` is alive.
 * `fn` must not close over `obj`: it gets it as its argument.
 * @internal
 */
export function onProcessExit<T extends object> (obj: T, fn: (obj: T) => void): void {
  onExit.register(obj, (o) => fn(o))
}

/**
 * Calls `fn(obj)` on the next `beforeExit` (the event loop ran dry), once, while `obj` is alive.
 * @internal
 */
export function onBeforeProcessExit<T extends object> (obj: T, fn: (obj: T) => void): void {
  onExit.registerBeforeExit(obj, (o) => fn(o))
}

/**
 * Removes every hook of `obj`.
 * @internal
 */
export function offProcessExit (obj: object): void {
  onExit.unregister(obj)
}
