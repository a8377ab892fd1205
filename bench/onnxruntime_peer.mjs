// ONNX Runtime (npm onnxruntime-node, CPU) on an exported model: median
// milliseconds per call at one batch size and thread count, after two
// untimed calls; prints one JSON line.
// ONNX Runtime comes from npm, beside the build (npm's registry only):
//   npm install --prefix build/onnxruntime onnxruntime-node --ignore-scripts
//   node bench/onnxruntime_peer.mjs MODEL.onnx --batch 1 --threads 1 --calls 200
// (MODEL.onnx from bench/export_onnx.py).
import { readFileSync } from "fs";
import { createRequire } from "module";
const require = createRequire(new URL("../build/onnxruntime/package.json", import.meta.url));
const ort = require("onnxruntime-node");

// This process's own high-water mark (VmHWM): getrusage's maxRSS carries a
// parent's across exec.
const peakRssMib = () => Number(/VmHWM:\s*(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const [model] = args;
const batch = option("--batch", 1), threads = option("--threads", 1), calls = option("--calls", 100);
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all", executionMode: "sequential",
});
const dims = session.inputMetadata?.[0]?.shape?.slice(1) ?? [3, 32, 32];
const shape = [batch, ...dims.map((d) => (typeof d === "number" ? d : 1))];
const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random() - 0.5);
const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, shape) };
await session.run(feeds);
await session.run(feeds);
const times = [];
for (let i = 0; i < calls; ++i) {
  const start = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ runtime: "onnxruntime", version: ort.env.versions?.common ?? "", model, batch, threads,
                             calls, ms_per_call: times[Math.floor(calls / 2)],
                             peak_rss_mib: peakRssMib() }));
