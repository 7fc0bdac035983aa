/**
 * The wire contract that the client and the reference server share: paths,
 * the lane headers, problem type URIs and the value ranges of the stored
 * columns. Nothing here is spelled a second time anywhere in lib/; a change
 * to the contract is a change to this file.
 */

/** The DataStorage batch endpoint (`POST`), relative to the service URL. @internal */
export const BATCH_PATH = '/api/v1/audit/events/batch'
/** One event (`POST`) and the trail query (`GET`). @internal */
export const EVENTS_PATH = '/api/v1/audit/events'
/** Signed lane checkpoints and skips (`POST`). @internal */
export const CHECKPOINTS_PATH = '/api/v1/audit/checkpoints'
/** The server-side chain check (`GET`). @internal */
export const VERIFY_PATH = '/api/v1/audit/verify'
/** The lanes and their last seq (`GET`). @internal */
export const LANES_PATH = '/api/v1/audit/lanes'
/** A lane's stored rows and notes (`GET`). @internal */
export const CHAIN_PATH = '/api/v1/audit/chain'

/** Readiness probe: 200 while the service can store. @internal */
export const READY_PATH = '/health/ready'
/** Liveness probe: 200 while the process is up. @internal */
export const LIVE_PATH = '/health/live'
/** Alias of {@link READY_PATH}. @internal */
export const HEALTH_PATH = '/health'

/** Header naming the producer of a lane batch (a UUID). @internal */
export const PRODUCER_HEADER = 'audit-stream-producer'
/** Header naming the lane of a lane batch (an int32 >= 0). @internal */
export const LANE_HEADER = 'audit-stream-lane'
/** Header with the seq of a lane batch's first event. @internal */
export const SEQ_HEADER = 'audit-stream-seq'
/** Header with the lane's chain hash before the batch (64 hex digits). @internal */
export const PREV_HASH_HEADER = 'audit-stream-prev-hash'
/** Header with the chain hash after the batch's last event (64 hex digits). @internal */
export const HEAD_HEADER = 'audit-stream-head'
/** The request headers of a lane batch, in the order the contract lists them. @internal */
export const LANE_HEADERS = [PRODUCER_HEADER, LANE_HEADER, SEQ_HEADER, PREV_HASH_HEADER, HEAD_HEADER] as const

/** Prefix of every problem `type` URI the reference server answers with. @internal */
export const PROBLEM_TYPE_PREFIX = 'urn:audit-stream:problem:'
/** 409: the lane expects an earlier seq first; send again once the earlier batch settles. @internal */
export const SEQUENCE_GAP = `${PROBLEM_TYPE_PREFIX}lane/sequence-gap`
/** 409: the lane already holds that seq with another chain. @internal */
export const SEQUENCE_CONFLICT = `${PROBLEM_TYPE_PREFIX}lane/sequence-conflict`
/** 422: a checkpoint or skip note the server will not store. @internal */
export const NOTE_REFUSED = `${PROBLEM_TYPE_PREFIX}lane/note-refused`

/** Smallest value of a PostgreSQL `integer` column (`duration_ms`, `retention_days`). @internal */
export const INT32_MIN = -2_147_483_648
/** Largest value of a PostgreSQL `integer` column; also the largest lane. @internal */
export const INT32_MAX = 2_147_483_647

/** A UUID in any letter case, as the API accepts it. @internal */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** A UUID in the canonical lowercase form that producer ids and notes use. @internal */
export const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
