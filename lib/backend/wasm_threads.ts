/**
 * Multi-threaded XNNPACK for the TensorFlow.js `wasm` backend under Deno.
 *
 * tfjs-backend-wasm 4.22 ships `tfjs-backend-wasm-threaded-simd.wasm` (emscripten pthreads + a pthreadpool
 * that XNNPACK's convolutions and GEMMs use), but three things keep it from ever starting under Deno:
 *
 * 1. **Detection.** The flag `WASM_HAS_MULTITHREAD_SUPPORT` returns `false` whenever `IS_NODE` is true, and
 *    Deno exposes `process`, so tfjs believes it runs on Node (tfjs issue #3830) and loads the
 *    single-threaded SIMD binary. Setting the flag to `true` by hand makes it load the threaded binary…
 * 2. **Workers.** …whose emscripten glue, in its Node mode, spawns its 8 pthread workers with
 *    `new (require("worker_threads").Worker)(url)`, `url` being a `blob:` URL that tfjs made for the
 *    worker script. Deno's `node:worker_threads` only accepts paths and `file:`/`data:` URLs
 *    (`ERR_WORKER_PATH`), and the stock worker script would not work anyway: in Node mode it `require`s
 *    and reads the main script with `fs.readFileSync`, which cannot read the `Blob` tfjs posts it. So while
 *    the backend initialises we replace `worker_threads.Worker` with an adapter that starts a Node-style
 *    worker on a `data:` URL module of our own: a port of emscripten's pthread worker protocol (`load` →
 *    read the posted factory `Blob`, evaluate it with `process`/`require` hidden so that it takes its
 *    browser-worker path, instantiate the shared `WebAssembly.Module` on the shared `WebAssembly.Memory`
 *    → `loaded`; `run` → enter the thread's entry point). Deno clones `WebAssembly.Module`s, shared
 *    memories and `Blob`s into workers and supports `Atomics.wait` there, which is all the pthreads need.
 *    Node-style workers can be `unref()`ed, so XNNPACK's idle pool threads do not keep the process alive.
 * 3. **Core count.** The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two
 *    hyper-threads per core), i.e. at 1 thread on a 2-core machine whatever `setThreadsCount` asks for. In
 *    Node mode that count comes from `os.cpus().length`, which we report as 2·n during initialisation.
 *
 * Everything is restored as soon as the backend has started; emscripten pre-spawns its 8 pool workers then,
 * and pthreadpool uses n−1 of them besides the calling thread. The speed-up is only there while the cores
 * are actually free (two threads on one busy core are no faster than one).
 *
 * Usage — before anything initialises the `wasm` backend:
 * ```ts
 * const threads = await enableWasmThreads(2); // 2, or 1 if it could not be enabled
 * await tf.setBackend("wasm");
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import os from "node:os";
import workerThreads from "node:worker_threads";

/**
 * emscripten's pthread worker (the `wasmWorkerContents` of tfjs-backend-wasm 4.22) ported to an ES module for
 * a `node:worker_threads` worker: the main script arrives as a `Blob`, so `load` is asynchronous and later
 * messages wait for it.
 */
const PTHREAD_WORKER_SOURCE = `import { parentPort } from "node:worker_threads";
const postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
globalThis.postMessage = postMessage;
let Module = {};
let initializedJS = false;
let pendingQueues = [];
let loading = null;
const waiting = [];
globalThis.self ??= globalThis;
globalThis.importScripts = () => { throw new Error("importScripts is not available in this worker"); };
globalThis.alert = (...a) => postMessage({ cmd: "alert", text: a.join(" "), threadId: Module["_pthread_self"]() });
globalThis.startWorker = (instance) => { Module = instance; postMessage({ cmd: "loaded" }); };
async function load(d) {
  Module["wasmModule"] = d.wasmModule;
  for (const handler of d.handlers) {
    Module[handler] = (...args) => postMessage({ cmd: "callHandler", handler, args });
  }
  Module["wasmMemory"] = d.wasmMemory;
  Module["buffer"] = d.wasmMemory.buffer;
  Module["ENVIRONMENT_IS_PTHREAD"] = true;
  Module["instantiateWasm"] = (info, receiveInstance) => {
    const instance = new WebAssembly.Instance(Module["wasmModule"], info);
    receiveInstance(instance);
    Module["wasmModule"] = null;
    return instance.exports;
  };
  const source = typeof d.urlOrBlob === "string"
    ? await (await fetch(d.urlOrBlob)).text()
    : await d.urlOrBlob.text();
  // Hide Node's globals so that the glue takes its browser-worker path.
  const factory = new Function("process", "require", "module", "exports", "__filename", "__dirname",
    source + "\\nreturn WasmBackendModuleThreadedSimd;")();
  factory(Module);
}
function handle(d) {
  if (d.cmd === "run") {
    Module["__emscripten_thread_init"](d.pthread_ptr, 0, 0, 1);
    Module["establishStackSpace"]();
    Module["PThread"].receiveObjectTransfer(d);
    Module["PThread"].threadInitTLS();
    if (!initializedJS) {
      for (const q of pendingQueues) Module["executeNotifiedProxyingQueue"](q);
      pendingQueues = [];
      initializedJS = true;
    }
    try {
      Module["invokeEntryPoint"](d.start_routine, d.arg);
    } catch (ex) {
      if (ex != "unwind") {
        if (ex instanceof Module["ExitStatus"]) {
          if (!Module["keepRuntimeAlive"]()) Module["__emscripten_thread_exit"](ex.status);
        } else {
          throw ex;
        }
      }
    }
  } else if (d.cmd === "cancel") {
    if (Module["_pthread_self"]()) Module["__emscripten_thread_exit"](-1);
  } else if (d.target === "setimmediate") {
    // nothing to do
  } else if (d.cmd === "processProxyingQueue") {
    if (initializedJS) Module["executeNotifiedProxyingQueue"](d.queue);
    else pendingQueues.push(d.queue);
  } else if (d.cmd) {
    console.error("wasm pthread worker: unknown command " + d.cmd);
  }
}
function dispatch(d) {
  try {
    handle(d);
  } catch (ex) {
    if (Module["__emscripten_thread_crashed"]) Module["__emscripten_thread_crashed"]();
    throw ex;
  }
}
parentPort.on("message", (d) => {
  if (d.cmd === "load") {
    loading = load(d).then(() => {
      loading = null;
      for (const m of waiting.splice(0)) dispatch(m);
    });
    return;
  }
  if (loading) waiting.push(d);
  else dispatch(d);
});
`;

/**
 * Stands in for `worker_threads.Worker` while the backend starts: whatever URL emscripten passes (tfjs's
 * `blob:` URL, which Deno rejects), start a Node-style worker on our pthread worker module instead. Node-style
 * workers (unlike Web Workers) can be `unref()`ed, which emscripten does, so idle pthreads do not keep the
 * process alive.
 */
class PthreadWorker {
  constructor(_url: string | URL) {
    return new NodeWorker(workerUrl());
  }
}

const NodeWorker = workerThreads.Worker;
let cachedWorkerUrl: URL | undefined;

function workerUrl(): URL {
  cachedWorkerUrl ??= new URL(`data:text/javascript,${encodeURIComponent(PTHREAD_WORKER_SOURCE)}`);
  return cachedWorkerUrl;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Run `init` with `worker_threads.Worker` and `os.cpus` patched as described in the module doc. */
async function withPatchedNode<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const wt = workerThreads as unknown as Mutable<typeof workerThreads>;
  const nodeOs = os as unknown as Mutable<typeof os>;
  const originalWorker = wt.Worker;
  const originalCpus = nodeOs.cpus;
  // The glue also does `globalThis.Worker = require("worker_threads").Worker`; undo that afterwards.
  const globalWorker = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  wt.Worker = PthreadWorker as unknown as typeof workerThreads.Worker;
  nodeOs.cpus = () => {
    const cpus = originalCpus();
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  };
  try {
    return await init();
  } finally {
    wt.Worker = originalWorker;
    nodeOs.cpus = originalCpus;
    if (globalWorker) Object.defineProperty(globalThis, "Worker", globalWorker);
  }
}

interface EngineInternals {
  registry: Record<string, unknown>;
  initializeBackend?: (name: string) => boolean | { success: Promise<boolean>; asyncInit: boolean };
}

/**
 * Start the `wasm` backend with `threads` XNNPACK threads (default: the machine's logical cores, at most 8).
 * Call it before anything initialises the `wasm` backend (`tf.setBackend("wasm")`, `tf.ready()` with wasm
 * as the best backend); the current backend is not changed. Resolves to the number of threads the backend
 * runs with: `threads`, or 1 when the threaded binary could not be started (it then falls back to the
 * single-threaded SIMD binary and logs why) or when the backend had already been started single-threaded.
 */
export async function enableWasmThreads(
  threads: number = navigator.hardwareConcurrency ?? 1,
): Promise<number> {
  const n = Math.max(1, Math.min(8, Math.floor(threads)));
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.registry["wasm"] != null) {
    console.warn(
      "enableWasmThreads: the wasm backend is already running; call it before tf.setBackend('wasm')",
    );
    return wasmThreadsCount();
  }
  if (n === 1) return 1;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(n);
  const ok = await withPatchedNode(n, async () => {
    try {
      const started = engine.initializeBackend?.("wasm");
      if (started == null) return await tf.setBackend("wasm");
      return typeof started === "boolean" ? started : await started.success;
    } catch (err) {
      console.warn(`enableWasmThreads: ${err instanceof Error ? err.message : err}`);
      return false;
    }
  });
  if (!ok) {
    // Let a later tf.setBackend("wasm") start the single-threaded SIMD binary instead.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setThreadsCount(1);
    return 1;
  }
  // emscripten ref()s the worker of every running pthread; XNNPACK's pool threads never exit, so let the
  // process end without them.
  const backend = engine.registry["wasm"] as unknown as {
    wasm?: { PThread?: { runningWorkers?: { unref?(): void }[] } };
  } | undefined;
  for (const worker of backend?.wasm?.PThread?.runningWorkers ?? []) worker.unref?.();
  return wasmThreadsCount();
}

/** The number of XNNPACK threads of the running `wasm` backend (1 when it is not running). */
export function wasmThreadsCount(): number {
  try {
    return getThreadsCount();
  } catch {
    return 1;
  }
}
