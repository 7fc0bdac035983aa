/**
 * The store's options, resolved and built: the checks of `options/store.ts`,
 * given the two things only the store's side may build, a {@link NoteSigner}
 * that tries the trail's key and the compiled event schema. Each is made at
 * its place in the order of checks, so the first bad option is still the one
 * named, and a bad key fails before the store takes its sink or its spool.
 */
import { NoteSigner } from '../chain/note-signature.js'
import { compileEventSchema } from '../event/event-validator.js'
import { checkStoreOptions, type ResolvedStoreOptions, type StoreOptionBuilders } from '../options/store.js'

const STORE_BUILDERS: StoreOptionBuilders = {
  checkSigningKey: (signingKey, keyName) => {
    void new NoteSigner(signingKey, keyName)
  },
  // A store refuses fields its schema does not know; the server ignores them.
  compileEventSchema: (openapi) => compileEventSchema(openapi, false)
}

/**
 * Applies the store defaults, validates, checks the trail's key and compiles
 * the event schema, without touching the caller's object.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveStoreOptions (input: unknown): ResolvedStoreOptions {
  return checkStoreOptions(input, STORE_BUILDERS)
}
