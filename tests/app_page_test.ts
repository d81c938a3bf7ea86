/**
 * The page's results model: verdicts under a moved threshold, sorting by every column, CSV quoting, slider
 * bounds; and the header sniffing the server uses to tell PNG/JPEG from anything else.
 */
import { assert, assertEquals } from "./assert.ts";
import sharp from "sharp";
import { type ResultRow, rowsToCsv, sliderRange, sortRows, verdictOf } from "../lib/app/page/results.ts";
import { imageDimensions, sniffImageFormat } from "../lib/app/image_sniff.ts";

const rows: ResultRow[] = [
  { index: 1, image: "b.png", score: 12.5, model: "m", run: "api", ms: 3 },
  { index: 2, image: 'a, "quoted".png', score: 40, model: "m", run: "browser (wasm)", ms: 1 },
  { index: 3, image: "img10.png", score: 20, model: "m", run: "api", ms: 2 },
  { index: 4, image: "img9.png", score: 20, model: "m", run: "api", ms: 4 },
];

Deno.test("verdicts follow the threshold (score ≥ threshold is anomalous)", () => {
  assertEquals(verdictOf(20, 20), "anomalous");
  assertEquals(verdictOf(19.999, 20), "normal");
  assertEquals(rows.map((r) => verdictOf(r.score, 25)), ["normal", "anomalous", "normal", "normal"]);
  assertEquals(rows.map((r) => verdictOf(r.score, 15)), ["normal", "anomalous", "anomalous", "anomalous"]);
});

Deno.test("sortRows: every column, both directions, stable on ties, natural name order", () => {
  const idx = (rs: ResultRow[]) => rs.map((r) => r.index);
  assertEquals(idx(sortRows(rows, "score", "ascending", 25)), [1, 3, 4, 2]);
  assertEquals(idx(sortRows(rows, "score", "descending", 25)), [2, 3, 4, 1]);
  assertEquals(idx(sortRows(rows, "image", "ascending", 25)), [2, 1, 4, 3]);
  assertEquals(idx(sortRows(rows, "verdict", "ascending", 25)), [2, 1, 3, 4]);
  assertEquals(idx(sortRows(rows, "ms", "descending", 25)), [4, 1, 3, 2]);
  assertEquals(idx(sortRows(rows, "threshold", "descending", 25)), [1, 2, 3, 4]);
});

Deno.test("rowsToCsv: header, verdict under the given threshold, quoting", () => {
  const csv = rowsToCsv(rows, 25);
  const lines = csv.trimEnd().split("\n");
  assertEquals(lines[0], "image,verdict,score,threshold,model,run,time_ms");
  assertEquals(lines[1], "b.png,normal,12.5,25,m,api,3.0");
  assertEquals(lines[2], '"a, ""quoted"".png",anomalous,40,25,m,browser (wasm),1.0');
  assertEquals(lines.length, 5);
});

Deno.test("sliderRange holds the threshold and every score", () => {
  const { min, max } = sliderRange(25, [12.5, 40]);
  assert(min <= 12.5 && max >= 40 && min >= 0);
  const empty = sliderRange(3, []);
  assert(empty.min <= 3 && empty.max > 3);
});

Deno.test("sniffImageFormat and imageDimensions read PNG and JPEG headers, refuse the rest", async () => {
  const base = sharp({ create: { width: 37, height: 21, channels: 3, background: "#336699" } });
  const png = new Uint8Array(await base.clone().png().toBuffer());
  const jpeg = new Uint8Array(await base.clone().jpeg().toBuffer());
  assertEquals(sniffImageFormat(png), "png");
  assertEquals(sniffImageFormat(jpeg), "jpeg");
  assertEquals(imageDimensions(png, "png"), { width: 37, height: 21 });
  assertEquals(imageDimensions(jpeg, "jpeg"), { width: 37, height: 21 });
  assertEquals(sniffImageFormat(new TextEncoder().encode("GIF89a....")), undefined);
  assertEquals(imageDimensions(png.slice(0, 20), "png"), undefined);
  assertEquals(imageDimensions(jpeg.slice(0, 10), "jpeg"), undefined);
});
