/**
 * What a sink's send methods get besides what they send: the contract
 * between `BatchSink` and a subclass's `sendBatch` and `sendNotes`. The
 * sink makes one per attempt; its signal is the sink's shutdown.
 */

/**
 * What `sendBatch` gets besides the batch.
 *
 * @example
 * ```ts
 * protected async sendBatch (batch: Batch, { signal, attempt }: SendContext) {
 *   await fetch(url, { method: 'POST', body: batchBody(batch), signal })
 * }
 * ```
 */
export interface SendContext {
  /** Aborted when the store's close times out: stop sending and throw. */
  readonly signal: AbortSignal
  /** This attempt's number, from 1. */
  readonly attempt: number
}

/**
 * What `sendNotes` gets besides the notes.
 *
 * @example
 * ```ts
 * protected async sendNotes (notes: readonly string[], { signal, publicKeyPem }: NotesContext) {
 *   await fetch(url, { method: 'POST', body: JSON.stringify({ notes, public_key: publicKeyPem }), signal })
 *   return true
 * }
 * ```
 */
export interface NotesContext {
  /** Aborted when the store's close times out. */
  readonly signal: AbortSignal
  /** The public half of the trail's signing key (SPKI PEM); undefined when notes are unsigned. */
  readonly publicKeyPem: string | undefined
}
