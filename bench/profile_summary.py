"""Where a training step's time goes: self time per operator in Chrome traces
written by `build/bench/train_throughput --trace` (LibTorch's profiler) and
`bench/python_train_throughput.py --trace` (torch.profiler), side by side.

  /usr/bin/python3 bench/profile_summary.py --steps 6 NAME=TRACE.json [NAME=TRACE.json ...] [--top 12]

Self time is an event's duration less that of the events nested in it, so
that each millisecond counts once. Prints a Markdown table in ms per step."""
import argparse
import collections
import json


def self_times(path):
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    # Operators only: the legacy profiler's events carry no category, kineto's
    # operators are "cpu_op" (its other events are annotations and Python frames).
    events = [e for e in events if e.get("ph") == "X" and e.get("cat", "cpu_op") == "cpu_op"]
    events.sort(key=lambda e: (e["ts"], -e["dur"]))
    totals = collections.Counter()
    stack = []  # the events enclosing the current one, outermost first
    for e in events:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            totals[stack[-1]["name"]] -= e["dur"]
        totals[e["name"]] += e["dur"]
        stack.append(e)
    return totals


def main():
    p = argparse.ArgumentParser()
    p.add_argument("traces", nargs="+", help="NAME=PATH")
    p.add_argument("--steps", type=int, required=True, help="training steps in each trace")
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args()
    names, tables = [], []
    for arg in a.traces:
        name, _, path = arg.partition("=")
        names.append(name)
        tables.append({k: v / 1000 / a.steps for k, v in self_times(path).items()})  # us -> ms per step
    ops = sorted({k for t in tables for k in t}, key=lambda k: -max(t.get(k, 0) for t in tables))
    print("| operator (self time, ms per step) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for op in ops[:a.top]:
        print(f"| `{op}` | " + " | ".join(f"{t.get(op, 0):.1f}" for t in tables) + " |")
    print("| total | " + " | ".join(f"{sum(t.values()):.1f}" for t in tables) + " |")


if __name__ == "__main__":
    main()
