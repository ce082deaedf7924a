/** The words the watcher (watcher.ts) and its poll thread (poll-thread.ts) share. */
export const MAX_SLOTS = 32;
export const enum W {
  /** Non-zero: the poll thread exits. */
  stop = 0,
  /** The eventfd the owner writes to cut a poll short (fd set changed, stop). */
  wakeFd = 1,
  /** Bumped by the poll thread after each report; the owner acknowledges it in `ack`. */
  seq = 2,
  ack = 3,
  /** How many fds are watched; the fds from `fds`, one ready flag each from `ready`. */
  count = 4,
  fds = 8,
  ready = 8 + 32,
  words = 8 + 64,
}
/** Upper bound on a blocking poll: a stop or a new fd set is seen within this at worst. */
export const WAIT_MS = 250;
