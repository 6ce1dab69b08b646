#!/usr/bin/env python3
"""Who took the core from a thread, from a scheduler trace.

Reads the text of `perf script -F time,trace` over a `perf record -e sched:sched_switch` trace and, for every
time a thread named THREAD (the `comm` of the sequencer, for instance) was switched out while still runnable
(preempted, state R), charges the time until it ran again to the thread that got the core. Prints one line per
preempting thread: how often, how long in total, the median and the longest, and how many lasted over 100 us.

    perf record -e sched:sched_switch -C 0 -o sched.data -- target/release/pipeline
    perf script -i sched.data -F time,trace > sched.txt
    python3 bench/sched_preemptions.py sched.txt sequencer
"""
import collections
import re
import sys

SWITCH = re.compile(
    r"\s*([\d.]+):\s+prev_comm=(.+?) prev_pid=(\d+) prev_prio=-?\d+ prev_state=(\S+) "
    r"==> next_comm=(.+?) next_pid=(\d+)"
)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: sched_preemptions.py PERF_SCRIPT_TEXT THREAD_COMM")
    path, thread = sys.argv[1], sys.argv[2]
    switches = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = SWITCH.match(line)
            if m:
                switches.append((float(m[1]), m[2], int(m[3]), m[4], m[5], int(m[6])))
    # For each preempted thread, the index of its next switch-in: one pass from the end.
    next_in = [None] * len(switches)
    seen = {}
    for i in range(len(switches) - 1, -1, -1):
        next_in[i] = dict(seen)  # shallow copies are small: one entry per pid on the traced core
        seen[switches[i][5]] = switches[i][0]
    held_us = collections.defaultdict(list)
    for i, (t, prev, prev_pid, state, nxt, _) in enumerate(switches):
        if prev == thread and state.startswith("R"):
            back = next_in[i].get(prev_pid)
            if back is not None:
                held_us[nxt].append((back - t) * 1e6)
    if not held_us:
        print(f"{thread}: never preempted in this trace")
        return
    print(f"preemptions of {thread} (switched out while runnable), by the thread that got the core:")
    for who, v in sorted(held_us.items(), key=lambda kv: -sum(kv[1])):
        v.sort()
        print(
            f"  {who:20s} {len(v):6d} times, {sum(v) / 1000:9.1f} ms in all, median {v[len(v) // 2]:8.1f} us, "
            f"longest {v[-1]:9.1f} us, {sum(1 for x in v if x > 100):5d} over 100 us"
        )


if __name__ == "__main__":
    main()
