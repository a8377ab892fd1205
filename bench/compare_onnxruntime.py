"""dcomp's runtime against ONNX Runtime on the same weights, interleaved:
each repetition runs bench/runtime_inference (the runtime on the .dcz) and
bench/onnxruntime_peer.mjs (ONNX Runtime on the dense float32 export of the
same weights, graph optimization "all"), the order alternating, at batch 1
and at batch N; prints each repetition and min / median / max of the ratio
ONNX Runtime time / runtime time; then the peak resident memory of each whole
process (bench/runtime_memory for the runtime, the peer's own figure for node
with ONNX Runtime, and node's alone).
  /usr/bin/python3 bench/compare_onnxruntime.py --file results/lab4/resnet20.dcz \
      --baseline models/resnet20_cifar10_baseline.pt --model resnet20 --reps 5"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def last_json(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--file", required=True, help="the compressed model (.dcz)")
    p.add_argument("--weights", help="its weights as a state_dict (default: the file unpacked by dcomp)")
    p.add_argument("--baseline", required=True, help="the dense baseline runtime_inference also times")
    p.add_argument("--model", required=True, help="a built-in name, or the user's TorchScript module the file came from")
    p.add_argument("--runtime-inference", default="build/bench/runtime_inference")
    p.add_argument("--runtime-memory", default="build/bench/runtime_memory")
    p.add_argument("--dcomp", default="build/src/cli/dcomp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--calls", type=int, default=200, help="batch-1 calls per timing (batch N: calls / 10)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    work = tempfile.mkdtemp()
    scripted = os.path.isfile(a.model)
    weights = a.weights or os.path.join(work, "weights.pt")
    if not a.weights:  # the file's own weights: a state_dict, or the user's module holding them
        like = ["--like", a.model] if scripted else ["--state-dict"]
        subprocess.run([a.dcomp, "unpack", a.file, *like, "--out", weights], check=True, capture_output=True)
    onnx = os.path.join(work, "model.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "export_onnx.py"), "torchscript" if scripted else a.model,
                    weights, onnx], check=True, capture_output=True)
    ratios = {1: [], a.batch: []}
    peer_rss = {1: [], a.batch: []}
    for rep in range(a.reps):
        def ours():
            return last_json([a.runtime_inference, "--file", a.file, "--baseline", a.baseline, "--reps", "1",
                              "--calls", str(a.calls), "--batch", str(a.batch), "--threads", str(a.threads)])

        def peer():
            return {n: last_json(["node", os.path.join(HERE, "onnxruntime_peer.mjs"), onnx, "--batch", str(n),
                                  "--threads", str(a.threads),
                                  "--calls", str(a.calls if n == 1 else max(3, a.calls // 10))])
                    for n in (1, a.batch)}
        if rep % 2:
            theirs, mine = peer(), ours()
        else:
            mine, theirs = ours(), peer()
        line = {"rep": rep}
        for n in (1, a.batch):
            ms = mine["batch%d" % n]["runtime_ms"]
            ratios[n].append(theirs[n]["ms_per_call"] / ms)
            peer_rss[n].append(theirs[n]["peak_rss_mib"])
            line["batch%d" % n] = {"runtime_ms": ms, "onnxruntime_ms": theirs[n]["ms_per_call"],
                                   "onnxruntime_over_runtime": ratios[n][-1]}
        print(json.dumps(line), flush=True)
    print(json.dumps({"threads": a.threads, **{
        "batch%d" % n: {"min": min(r), "median": statistics.median(r), "max": max(r)} for n, r in ratios.items()}}))
    node_alone = last_json(["node", "-e", "const m = /VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync("
                            "'/proc/self/status', 'utf8')); console.log(JSON.stringify({peak_rss_mib: m[1] / 1024}))"])
    print(json.dumps({"peak_rss_mib": {
        "batch%d" % n: {"runtime": last_json([a.runtime_memory, "--file", a.file, "--batch", str(n),
                                              "--threads", str(a.threads)])["peak_rss_mib"],
                        "node_with_onnxruntime": max(peer_rss[n]),
                        "node_alone": node_alone["peak_rss_mib"]} for n in (1, a.batch)}}))


if __name__ == "__main__":
    main()
