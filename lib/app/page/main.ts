/**
 * The inspection page. It loads the bundles from `models/index.json` (the server's, or the static build's),
 * runs the TensorFlow.js graph model in the browser (WebGPU when the browser has it, else wasm, else WebGL),
 * decodes and resizes each image exactly as the server's image library does ({@link resizeCubic}), and scores
 * the embedding with the bundle's density using the same code as evaluation (`eval/density.ts`), in float64.
 * A switch sends the images to `/api/predict` instead, when a server is behind the page.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { type Density, densityFromJson, scoreEmbeddings } from "../../eval/density.ts";
import { type PixelImage, resizeCubic, rgbaToRgb } from "../resize.ts";
import { type ResultRow, rowsToCsv, sliderRange, type SortKey, sortRows, verdictOf } from "./results.ts";

/** What `models/index.json` lists per bundle (see `ModelSummary` on the server). */
interface ModelInfo {
  name: string;
  category: string;
  image_size: number;
  threshold: number;
  density: string;
  outputs: string[];
  has_anomaly_map: boolean;
  training: { step: number; auroc: number };
  files: string[];
}

interface LoadedModel {
  info: ModelInfo;
  graph: tf.GraphModel;
  density: Density;
}

interface Row extends ResultRow {
  url: string;
  mapUrl?: string;
}

const MAX_PIXELS = 100_000_000;
const BACKEND_ORDER = ["webgpu", "wasm", "webgl"] as const;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  models: [] as ModelInfo[],
  loaded: new Map<string, LoadedModel>(),
  current: undefined as ModelInfo | undefined,
  mode: "browser" as "browser" | "api",
  apiAvailable: false,
  backend: "",
  rows: [] as Row[],
  threshold: NaN,
  sort: { key: "index" as SortKey, direction: "ascending" as "ascending" | "descending" },
  busy: Promise.resolve() as Promise<unknown>,
  counter: 0,
};

function showError(message: string | undefined): void {
  const el = $("error");
  el.hidden = !message;
  el.textContent = message ?? "";
}

/** Start a tfjs backend: the asked one, or for `auto` the first of webgpu → wasm → webgl that starts. */
async function startBackend(choice: string): Promise<string> {
  const order = choice === "auto" ? [...BACKEND_ORDER] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    if (name === "webgpu" && !("gpu" in navigator)) {
      skipped.push("webgpu: not in this browser");
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        if (tf.getBackend() === name) {
          $("backend-status").textContent = `tfjs ${name}`;
          $("backend-status").title = skipped.join("; ");
          return name;
        }
      }
      skipped.push(`${name}: did not start`);
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no TensorFlow.js backend started (${skipped.join("; ")})`);
}

async function fetchJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return await res.json() as T;
}

async function loadModel(info: ModelInfo): Promise<LoadedModel> {
  const hit = state.loaded.get(info.name);
  if (hit) return hit;
  const base = `models/${encodeURIComponent(info.name)}/`;
  const [graph, fitted] = await Promise.all([
    tf.loadGraphModel(`${base}model.json`),
    fetchJson<{ density: unknown }>(`${base}density.json`),
  ]);
  const loaded = { info, graph, density: densityFromJson(fitted.density) };
  state.loaded.set(info.name, loaded);
  return loaded;
}

function disposeModels(): void {
  for (const m of state.loaded.values()) m.graph.dispose();
  state.loaded.clear();
}

/** Decode an image file to 8-bit RGB without colour management or premultiplication. */
async function decodeImage(blob: Blob): Promise<PixelImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) throw new Error(`${width}x${height} is over ${MAX_PIXELS} pixels`);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("no 2D canvas");
    ctx.drawImage(bitmap, 0, 0);
    return rgbaToRgb(ctx.getImageData(0, 0, width, height).data, width, height);
  } finally {
    bitmap.close();
  }
}

/** A one-channel map as a grey PNG data URL. */
function mapToDataUrl(values: Float32Array, height: number, width: number): string {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(width, height);
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  for (let i = 0; i < values.length; i++) {
    const g = max > 0 ? Math.round((values[i] / max) * 255) : 0;
    img.data.set([g, g, g, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL("image/png");
}

/** Colour stops of the heatmap (value 0 → 1): blue, cyan, yellow, red. */
const HEAT_STOPS: [number, number, number][] = [[40, 60, 220], [30, 200, 230], [250, 220, 40], [230, 30, 30]];

/**
 * A greyscale anomaly map (a PNG data URL, 0 = normal … 255 = most anomalous) as a colour heatmap with alpha
 * growing with the value, to lay over the image.
 */
async function heatmapOverlay(mapUrl: string): Promise<string> {
  const img = new Image();
  img.src = mapUrl;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < px.data.length; i += 4) {
    const v = px.data[i] / 255;
    const f = v * (HEAT_STOPS.length - 1);
    const k = Math.min(HEAT_STOPS.length - 2, Math.floor(f));
    const t = f - k;
    for (let c = 0; c < 3; c++) px.data[i + c] = HEAT_STOPS[k][c] * (1 - t) + HEAT_STOPS[k + 1][c] * t;
    px.data[i + 3] = Math.round(255 * (0.1 + 0.65 * v));
  }
  ctx.putImageData(px, 0, 0);
  return canvas.toDataURL("image/png");
}

/** Score one image in the browser. */
async function scoreInBrowser(model: LoadedModel, blob: Blob): Promise<{ score: number; mapUrl?: string }> {
  const size = model.info.image_size;
  const rgb = resizeCubic(await decodeImage(blob), size, size);
  const x = tf.tensor4d(Float32Array.from(rgb.data), [1, size, size, 3]);
  const wantMap = model.info.has_anomaly_map;
  try {
    const out = model.graph.execute({ image: x }, wantMap ? ["embedding", "anomaly_map"] : "embedding");
    const [e, m] = (Array.isArray(out) ? out : [out]) as tf.Tensor[];
    try {
      const data = await e.data();
      const score = scoreEmbeddings(model.density, data, e.shape[0])[0];
      let mapUrl: string | undefined;
      if (m) mapUrl = mapToDataUrl(await m.data() as Float32Array, m.shape[1]!, m.shape[2]!);
      return { score, mapUrl };
    } finally {
      e.dispose();
      m?.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** Score one image through the server's `/api/predict`. */
async function scoreByApi(info: ModelInfo, file: File): Promise<{ score: number; mapUrl?: string }> {
  const url = `api/predict?model=${encodeURIComponent(info.name)}&name=${encodeURIComponent(file.name)}`;
  const res = await fetch(url, { method: "POST", body: file, headers: { "content-type": file.type || "" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return { score: body.pred_score, mapUrl: body.anomaly_map_png };
}

function isImageFile(f: File): boolean {
  return /^image\/(png|jpeg)$/.test(f.type) || /\.(png|jpe?g)$/i.test(f.name);
}

function fileLabel(f: File): string {
  return (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
}

/** Score files one after another (queued behind any running batch), showing progress. */
function processFiles(files: File[]): Promise<unknown> {
  const images = files.filter(isImageFile);
  const skipped = files.length - images.length;
  state.busy = state.busy.then(() => runBatch(images, skipped));
  return state.busy;
}

async function runBatch(files: File[], skipped: number): Promise<void> {
  const info = state.current;
  if (!info || files.length === 0) {
    if (skipped) showError(`${skipped} file(s) skipped: not PNG or JPEG`);
    return;
  }
  const panel = $("progress-panel");
  panel.hidden = false;
  const failures: string[] = [];
  const started = performance.now();
  const model = state.mode === "browser" ? await loadModel(info) : undefined;
  const run = state.mode === "browser" ? `browser (${state.backend})` : "api";
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const t0 = performance.now();
    try {
      const { score, mapUrl: grey } = model
        ? await scoreInBrowser(model, file)
        : await scoreByApi(info, file);
      const mapUrl = grey ? await heatmapOverlay(grey) : undefined;
      state.rows.push({
        index: ++state.counter,
        image: fileLabel(file),
        score,
        model: info.name,
        run,
        ms: performance.now() - t0,
        url: URL.createObjectURL(file),
        mapUrl,
      });
    } catch (err) {
      failures.push(`${fileLabel(file)}: ${(err as Error).message}`);
    }
    const done = i + 1;
    ($("progress-bar") as HTMLDivElement).style.width = `${(100 * done) / files.length}%`;
    const per = (performance.now() - started) / done;
    $("progress-text").textContent = `${done} / ${files.length} images · ${per.toFixed(0)} ms per image`;
    if (done % 4 === 0 || done === files.length) render();
  }
  const notes = [...failures];
  if (skipped) notes.push(`${skipped} file(s) skipped: not PNG or JPEG`);
  showError(notes.length ? notes.join("\n") : undefined);
  setTimeout(() => (panel.hidden = true), 600);
  render();
}

function clearRows(): void {
  for (const r of state.rows) URL.revokeObjectURL(r.url);
  state.rows = [];
  state.counter = 0;
}

function updateSlider(): void {
  const info = state.current;
  if (!info) return;
  const slider = $("threshold") as HTMLInputElement;
  const { min, max } = sliderRange(info.threshold, state.rows.map((r) => r.score));
  slider.min = String(min);
  slider.max = String(max);
  slider.value = String(state.threshold);
}

function render(): void {
  const t = state.threshold;
  ($("threshold-value") as HTMLOutputElement).value = Number.isFinite(t) ? t.toFixed(4) : "";
  updateSlider();
  const rows = sortRows(state.rows, state.sort.key, state.sort.direction, t);
  const tbody = document.querySelector("#results tbody")!;
  tbody.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    const verdict = verdictOf(r.score, t);
    tr.dataset.index = String(r.index);
    tr.dataset.image = r.image;
    tr.dataset.score = String(r.score);
    tr.dataset.verdict = verdict;
    const cells: [string, string][] = [
      [String(r.index), "num"],
      [r.image, ""],
      ["", ""],
      [r.score.toFixed(4), "num"],
      [t.toFixed(4), "num"],
      [r.run, ""],
      [r.ms.toFixed(1), "num"],
    ];
    cells.forEach(([text, cls], i) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      if (i === 2) {
        const b = document.createElement("span");
        b.className = `badge ${verdict}`;
        b.textContent = verdict;
        td.append(b);
      } else td.textContent = text;
      tr.append(td);
    });
    return tr;
  }));
  $("empty").hidden = state.rows.length > 0;
  for (const th of document.querySelectorAll<HTMLElement>("#results th")) {
    if (th.dataset.key === state.sort.key) th.setAttribute("aria-sort", state.sort.direction);
    else th.removeAttribute("aria-sort");
  }
  const showMaps = ($("heatmap-toggle") as HTMLInputElement).checked;
  $("gallery").replaceChildren(...rows.map((r) => {
    const verdict = verdictOf(r.score, t);
    const card = document.createElement("figure");
    card.className = `card ${verdict}`;
    card.style.margin = "0";
    const thumb = document.createElement("div");
    thumb.className = "thumb";
    const img = document.createElement("img");
    img.src = r.url;
    img.alt = r.image;
    thumb.append(img);
    if (showMaps && r.mapUrl) {
      const map = document.createElement("img");
      map.src = r.mapUrl;
      map.className = "map";
      map.alt = "";
      thumb.append(map);
    }
    const meta = document.createElement("figcaption");
    meta.className = "meta";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = r.image;
    name.title = r.image;
    const line = document.createElement("span");
    line.className = "line";
    const badge = document.createElement("span");
    badge.className = `badge ${verdict}`;
    badge.textContent = verdict;
    const score = document.createElement("span");
    score.className = "muted";
    score.textContent = r.score.toFixed(3);
    line.append(badge, score);
    meta.append(name, line);
    card.append(thumb, meta);
    return card;
  }));
  const bad = state.rows.filter((r) => r.score >= t).length;
  $("summary").textContent = state.rows.length
    ? `${state.rows.length} images · ${bad} anomalous · ${state.rows.length - bad} normal`
    : "";
}

function showModelInfo(info: ModelInfo): void {
  const auroc = Number.isFinite(info.training.auroc) ? info.training.auroc.toFixed(3) : "–";
  $("model-info").innerHTML = "";
  const parts: [string, string][] = [
    ["Category", info.category],
    ["Input", `${info.image_size} × ${info.image_size}`],
    ["Threshold", info.threshold.toFixed(4)],
    ["Density", info.density],
    ["Trained", `${info.training.step} steps`],
    ["Test AUROC", auroc],
  ];
  for (const [k, v] of parts) {
    const span = document.createElement("span");
    const b = document.createElement("b");
    b.textContent = `${k}: `;
    span.append(b, v);
    $("model-info").append(span);
  }
  $("heatmap-label").hidden = !info.has_anomaly_map;
}

async function selectModel(name: string): Promise<void> {
  const info = state.models.find((m) => m.name === name);
  if (!info) return;
  if (state.current && state.current.name !== name) clearRows(); // one model's threshold per table
  state.current = info;
  state.threshold = info.threshold;
  showModelInfo(info);
  render();
  if (state.mode === "browser") await loadModel(info);
}

function setMode(mode: "browser" | "api"): void {
  state.mode = mode;
  for (const [id, m] of [["mode-browser", "browser"], ["mode-api", "api"]] as const) {
    $(id).classList.toggle("active", m === mode);
    $(id).setAttribute("aria-pressed", String(m === mode));
  }
}

function download(name: string, text: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

/** Files of a dropped folder, read recursively through the entries API. */
async function entryFiles(entry: FileSystemEntry, prefix = ""): Promise<File[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    return [new File([file], prefix + file.name, { type: file.type })];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: File[] = [];
  while (true) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    for (const e of batch) out.push(...await entryFiles(e, `${prefix}${entry.name}/`));
  }
  return out;
}

function wireEvents(): void {
  const onPick = (input: HTMLInputElement) => {
    const files = [...(input.files ?? [])];
    input.value = "";
    processFiles(files);
  };
  $("files").addEventListener("change", (e) => onPick(e.target as HTMLInputElement));
  $("folder").addEventListener("change", (e) => onPick(e.target as HTMLInputElement));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const items = [...(e.dataTransfer?.items ?? [])];
    const entries = items.map((i) => i.webkitGetAsEntry?.()).filter((x): x is FileSystemEntry => !!x);
    const files = entries.length
      ? (await Promise.all(entries.map((en) => entryFiles(en)))).flat()
      : [...(e.dataTransfer?.files ?? [])];
    processFiles(files);
  });
  $("threshold").addEventListener("input", (e) => {
    state.threshold = Number((e.target as HTMLInputElement).value);
    render();
  });
  $("threshold-reset").addEventListener("click", () => {
    if (state.current) state.threshold = state.current.threshold;
    render();
  });
  $("heatmap-toggle").addEventListener("change", render);
  for (const th of document.querySelectorAll<HTMLElement>("#results th")) {
    th.addEventListener("click", () => {
      const key = th.dataset.key as SortKey;
      const same = state.sort.key === key;
      state.sort = {
        key,
        direction: same && state.sort.direction === "ascending" ? "descending" : "ascending",
      };
      render();
    });
  }
  $("csv").addEventListener("click", () => {
    const rows = sortRows(state.rows, state.sort.key, state.sort.direction, state.threshold);
    download(`inspection-${state.current?.name ?? "results"}.csv`, rowsToCsv(rows, state.threshold));
  });
  $("clear").addEventListener("click", () => {
    clearRows();
    render();
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("files").click();
    }
  });
  $("model").addEventListener("change", (e) => {
    selectModel((e.target as HTMLSelectElement).value).catch((err) => showError(String(err)));
  });
  $("mode-browser").addEventListener("click", () => setMode("browser"));
  $("mode-api").addEventListener("click", () => state.apiAvailable && setMode("api"));
  $("backend").addEventListener("change", async (e) => {
    const choice = (e.target as HTMLSelectElement).value;
    state.busy = state.busy.then(async () => {
      try {
        disposeModels();
        state.backend = await startBackend(choice);
        if (state.current && state.mode === "browser") await loadModel(state.current);
        showError(undefined);
      } catch (err) {
        showError((err as Error).message);
      }
    });
    await state.busy;
  });
  let stream: MediaStream | undefined;
  $("webcam-open").addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
      ($("video") as HTMLVideoElement).srcObject = stream;
      $("webcam").hidden = false;
    } catch (err) {
      showError(`camera: ${(err as Error).message}`);
    }
  });
  $("webcam-close").addEventListener("click", () => {
    stream?.getTracks().forEach((t) => t.stop());
    $("webcam").hidden = true;
  });
  $("capture").addEventListener("click", () => {
    const video = $("video") as HTMLVideoElement;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d")!.drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (!blob) return;
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      processFiles([new File([blob], `webcam-${stamp}.png`, { type: "image/png" })]);
    }, "image/png");
  });
}

async function main(): Promise<void> {
  wireEvents();
  setWasmPaths(new URL("wasm/", location.href).href);
  try {
    state.backend = await startBackend("auto");
    ($("backend") as HTMLSelectElement).value = "auto";
  } catch (err) {
    showError((err as Error).message);
  }
  const { models, api: hasApi } = await fetchJson<{ models: ModelInfo[]; api?: boolean }>(
    "models/index.json",
  );
  state.apiAvailable = hasApi === true;
  const api = $("mode-api") as HTMLButtonElement;
  api.disabled = !state.apiAvailable;
  api.title = state.apiAvailable
    ? "send images to /api/predict"
    : "no server API behind this page (static build)";
  state.models = models;
  const select = $("model") as HTMLSelectElement;
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.image_size}px)`, m.name)));
  if (models.length === 0) throw new Error("no model in models/index.json");
  await selectModel(models[0].name);
  document.body.dataset.ready = "true";
}

/** Hooks for automated checks: the backend in use, the mode switch, the work queue, the live tensor count. */
declare global {
  interface Window {
    inspection: {
      backend: () => string;
      setMode: (m: "browser" | "api") => void;
      idle: () => Promise<unknown>;
      tensors: () => number;
    };
  }
}
(globalThis as unknown as Window).inspection = {
  backend: () => state.backend,
  setMode,
  idle: () => state.busy,
  tensors: () => tf.memory().numTensors,
};

main().catch((err) => {
  showError(`the page could not start: ${(err as Error).message}`);
  document.body.dataset.ready = "error";
});
