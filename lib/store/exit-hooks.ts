/**
 * Process exit hooks that hold their object weakly: a store that is
 * garbage-collected is forgotten, and a hook never keeps a store (or the
 * process) alive. The same idea as pino's on-exit-leak-free, whose 2.1.2
 * drops other objects' hooks when one is collected (`splice(index, index + 1)`).
 */

type Hook = (obj: object) => void

interface Entry {
  readonly ref: WeakRef<object>
  readonly exit: Hook
  readonly beforeExit: Hook | undefined
}

// Invariant: the process listeners are installed exactly while #entries is non-empty.
const entries = new Set<Entry>()
const byObject = new WeakMap<object, Entry>()
const registry = new FinalizationRegistry<Entry>((entry) => {
  entries.delete(entry)
  sync()
})
let installed = false

function call (event: 'exit' | 'beforeExit'): void {
  for (const entry of [...entries]) {
    const obj = entry.ref.deref()
    const hook = entry[event]
    if (obj !== undefined && hook !== undefined) hook(obj)
  }
}

const onExit = (): void => call('exit')
const onBeforeExit = (): void => call('beforeExit')

function sync (): void {
  if (entries.size > 0 && !installed) {
    process.on('exit', onExit)
    process.on('beforeExit', onBeforeExit)
    installed = true
  } else if (entries.size === 0 && installed) {
    process.off('exit', onExit)
    process.off('beforeExit', onBeforeExit)
    installed = false
  }
}

/**
 * Calls `hooks.exit(obj)` on the process's `exit` event and
 * `hooks.beforeExit(obj)` on every `beforeExit`, while `obj` is alive. The
 * hooks get `obj` as their argument and must not close over it.
 * @internal
 */
export function watchProcessExit<T extends object> (obj: T, hooks: { exit: (obj: T) => void, beforeExit?: ((obj: T) => void) | undefined }): void {
  unwatchProcessExit(obj)
  const entry: Entry = { ref: new WeakRef(obj), exit: hooks.exit as Hook, beforeExit: hooks.beforeExit as Hook | undefined }
  entries.add(entry)
  byObject.set(obj, entry)
  registry.register(obj, entry, entry)
  sync()
}

/**
 * Removes the hooks of `obj`, if any.
 * @internal
 */
export function unwatchProcessExit (obj: object): void {
  const entry = byObject.get(obj)
  if (entry === undefined) return
  byObject.delete(obj)
  entries.delete(entry)
  registry.unregister(entry)
  sync()
}
