// V8 keeps the heap a burst of work grew (a watchdog round over hundreds of hosts, a night's runs) until a
// full collection shows its memory reducer that the garbage is gone; without one an idle daemon sits on it.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;

/** A full garbage collection now, after which V8 gives back the pages it no longer needs (within seconds). */
export function releaseMemory(): void {
  if (!collect) {
    // The flag only reaches contexts made after it: the collector is fetched from a new one (as Jest does).
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
}
