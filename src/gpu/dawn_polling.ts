/**
 * Paced polling for Dawn's Node bindings (npm `webgpu`).
 *
 * dawn.node resolves GPU promises (queue.onSubmittedWorkDone, buffer.mapAsync, ...) by polling:
 * while any is pending, its AsyncRunner re-arms `globalThis.setImmediate` with a native callback
 * that processes Dawn's events — back to back, so the JavaScript thread spins at 100 % of a core
 * for as long as the GPU works. On a GPU that core is merely wasted; on a CPU adapter (lavapipe) it
 * is taken from the device: measured on 2 cores, the Node thread used 0.7–0.8 s of CPU while
 * waiting ~1 s for five convolutions, and the same work took 0.56–0.64 s once the polls were
 * spaced 1 ms apart (the two llvmpipe threads then had the cores to themselves).
 *
 * pacePolling() replaces `globalThis.setImmediate` so that native callbacks (Dawn's) keep polling
 * back to back only for the first SPIN_MS of a wait — short waits (a small readback) end as soon
 * as before — then, until NAP_UNTIL_MS, nap NAP_MS between polls (Atomics.wait: the thread sleeps,
 * and a wait that ends in this span is seen within ~0.1 ms), and after that run `intervalMs` apart
 * through setTimeout, which leaves the event loop free for other work. The naps matter on a CPU
 * adapter: a 5 ms convolution on 2 cores took a median 7.0 ms while its wait spun back to back for
 * its first 2 ms, 5.0–5.2 ms with 0.2 ms of spinning and naps after (HISTORY stop 40). Calls with
 * JavaScript callbacks go to the real setImmediate untouched. Dawn looks setImmediate up on every
 * re-arm, so the change takes effect at its next poll. Reference-counted: the original comes back
 * when the last user releases it.
 */

/** How long a wait polls back to back before its polls are spaced (ms). */
const SPIN_MS = 0.2;
/** The sleep between polls after SPIN_MS, until NAP_UNTIL_MS of a wait (ms). */
const NAP_MS = 0.1;
/** How long a wait naps between polls before they go through setTimeout (ms). */
const NAP_UNTIL_MS = 2;
/** The spacing an engine asks for (ms). */
const INTERVAL_MS = 1;
/** What an engine's pacing does, for reports (effconv info, the bench). */
export const PACED_POLLING = `Dawn's polls back to back for ${SPIN_MS} ms, ${NAP_MS} ms naps between them until ${NAP_UNTIL_MS} ms, then ${INTERVAL_MS} ms apart`;

type SetImmediate = typeof globalThis.setImmediate;

let users = 0;
let original: SetImmediate | undefined;
let paced: SetImmediate | undefined;

/** What Atomics.wait sleeps on: nothing ever notifies it, so each nap lasts its timeout. */
const napCell = new Int32Array(new SharedArrayBuffer(4));

/** Whether this thread may block in Atomics.wait (a runtime may forbid it on its main thread). */
function canNap(): boolean {
  try {
    Atomics.wait(napCell, 0, 1, 0); // the cell holds 0: returns 'not-equal' at once where allowed
    return true;
  } catch {
    return false;
  }
}

const isNative = (f: unknown) => typeof f === 'function' && Function.prototype.toString.call(f).endsWith('{ [native code] }');

/**
 * Spaces dawn.node's polls (naps, then `intervalMs` apart: see above) until the returned release
 * function is called. While several users hold it, the first one's interval applies.
 */
export function pacePolling(intervalMs = INTERVAL_MS): () => void {
  if (!(intervalMs > 0)) throw new RangeError(`pacePolling: interval must be > 0 ms, got ${intervalMs}`);
  if (typeof globalThis.setImmediate !== 'function') return () => {}; // not Node: nothing polls this way
  if (users++ === 0) {
    // both captured now, so that timers faked later (a test framework's) do not hold up Dawn's polls
    const real = globalThis.setImmediate;
    const later = globalThis.setTimeout;
    original = real;
    // A poll armed from inside a poll continues a wait; one armed from elsewhere (the call that
    // made a promise pending) starts one.
    let inPoll = false;
    let waitStart = 0;
    const naps = canNap(); // else those polls run back to back, as in the first SPIN_MS
    paced = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
      if (!isNative(callback)) return real(callback, ...args);
      const now = performance.now();
      if (!inPoll) waitStart = now;
      const waited = now - waitStart;
      const poll = () => {
        if (naps && waited >= SPIN_MS) Atomics.wait(napCell, 0, 0, NAP_MS);
        inPoll = true;
        try {
          callback(...args);
        } finally {
          inPoll = false;
        }
      };
      return waited < NAP_UNTIL_MS ? real(poll) : later(poll, intervalMs);
    }) as SetImmediate;
    globalThis.setImmediate = paced;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users > 0) return;
    // leave a later replacement by someone else in place
    if (globalThis.setImmediate === paced) globalThis.setImmediate = original!;
    original = paced = undefined;
  };
}

/** How many users hold pacePolling now (for tests). */
export const pacingUsers = () => users;
