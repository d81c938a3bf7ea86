// Tests of lib/plot/receptive_field.ts: the receptive-field grid follows sspcabOffsets (the offsets the
// SSPCAB forward pass slices with) for several k and d, and the SVG drawing is well formed, labelled and
// renderable by librsvg (sharp).
import sharp from "sharp";
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { receptiveField, receptiveFieldSvg } from "../lib/plot/receptive_field.ts";
import { DEFAULT_SSPCAB, sspcabOffsets } from "../lib/model/sspcab.ts";

const CONFIGS = [
  { kernelDim: 1, dilation: 1 },
  { kernelDim: 2, dilation: 1 },
  { kernelDim: 1, dilation: 0 },
  { kernelDim: 3, dilation: 2 },
];

Deno.test("receptiveField: window side 2k+2d+1, 4k² kernel cells, masked centre, gaps of width d", () => {
  for (const { kernelDim: k, dilation: d } of CONFIGS) {
    const f = receptiveField({ kernelDim: k, dilation: d });
    const side = 2 * k + 2 * d + 1;
    assertEquals(f.side, side);
    assertEquals(f.cells.length, side);
    for (const row of f.cells) assertEquals(row.length, side);
    const flat = f.cells.flat();
    for (const K of ["K1", "K2", "K3", "K4"]) {
      assertEquals(flat.filter((c) => c === K).length, k * k, `${K} k=${k}`);
    }
    assertEquals(flat.filter((c) => c === "M").length, 1);
    assertEquals(f.cells[k + d][k + d], "M", "M sits at the centre");
    assertEquals(flat.filter((c) => c === "").length, side * side - 4 * k * k - 1);
    // Along the top row: K1 (k cells), then gaps, then K3 (k cells); along the centre row: d gaps either side of M.
    const centre = f.cells[k + d];
    assertEquals(centre.filter((c) => c === "").length, side - 1);
    assertEquals(f.cells[0].slice(0, k), Array(k).fill("K1"));
    assertEquals(f.cells[0].slice(side - k), Array(k).fill("K3"));
  }
});

Deno.test("receptiveField: sub-kernel Ki sits at sspcabOffsets()[i - 1], as conv i of the forward pass", () => {
  for (const { kernelDim: k, dilation: d } of CONFIGS) {
    const f = receptiveField({ kernelDim: k, dilation: d });
    const offsets = sspcabOffsets({ ...DEFAULT_SSPCAB, kernelDim: k, dilation: d });
    offsets.forEach(([r0, c0], i) => {
      for (let r = 0; r < k; r++) {
        for (let c = 0; c < k; c++) {
          assertEquals(f.cells[r0 + r][c0 + c], `K${i + 1}`, `k=${k} d=${d} K${i + 1}`);
        }
      }
    });
    // The reference layout: K1 top-left, K2 bottom-left, K3 top-right, K4 bottom-right.
    const last = f.side - 1;
    assertEquals([f.cells[0][0], f.cells[last][0], f.cells[0][last], f.cells[last][last]], [
      "K1",
      "K2",
      "K3",
      "K4",
    ]);
  }
});

Deno.test("receptiveField: rejects k < 1, d < 0 and non-integers", () => {
  assertThrows(() => receptiveField({ kernelDim: 0, dilation: 1 }), RangeError, "kernelDim");
  assertThrows(() => receptiveField({ kernelDim: 1, dilation: -1 }), RangeError);
  assertThrows(() => receptiveField({ kernelDim: 1.5, dilation: 1 }), RangeError);
});

Deno.test("receptiveFieldSvg: one rect per cell, labels K1–K4 and M, k and d brackets, title", () => {
  for (const { kernelDim: k, dilation: d } of CONFIGS) {
    const svg = receptiveFieldSvg({ kernelDim: k, dilation: d });
    const side = 2 * k + 2 * d + 1;
    assertMatch(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
    assert(svg.trimEnd().endsWith("</svg>"));
    assertEquals((svg.match(/<rect class="cell/g) ?? []).length, side * side);
    assertEquals((svg.match(/<rect class="cell K1"/g) ?? []).length, k * k);
    assertEquals((svg.match(/<rect class="cell M"/g) ?? []).length, 1);
    for (const label of ["K1", "K2", "K3", "K4", "M"]) assertMatch(svg, new RegExp(`>${label}</text>`));
    assertMatch(svg, new RegExp(`>k = ${k}</text>`));
    if (d > 0) assertMatch(svg, new RegExp(`>d = ${d}</text>`));
    assertMatch(svg, new RegExp(`SSPCAB receptive field \\(k = ${k}, d = ${d}\\)`));
    assertMatch(svg, new RegExp(`data-kernel-dim="${k}" data-dilation="${d}"`));
    // Balanced elements: every opened <g>/<text>/<pattern>/<defs> is closed.
    for (const tag of ["text", "pattern", "defs"]) {
      assertEquals(
        (svg.match(new RegExp(`<${tag}[ >]`, "g")) ?? []).length,
        (svg.match(new RegExp(`</${tag}>`, "g")) ?? []).length,
        tag,
      );
    }
  }
});

Deno.test("receptiveFieldSvg: ids are prefixed (several drawings per page) and the title can be dropped", () => {
  const svg = receptiveFieldSvg({ kernelDim: 1, dilation: 1 }, { idPrefix: "a1", title: "" });
  assertMatch(svg, /id="a1-hatch"/);
  assertMatch(svg, /url\(#a1-hatch\)/);
  assert(!svg.includes("SSPCAB receptive field"));
});

Deno.test("receptiveFieldSvg: renders with librsvg (sharp) to a PNG of the declared size", async () => {
  const svg = receptiveFieldSvg({ kernelDim: 2, dilation: 1 });
  const w = Number(/width="(\d+)"/.exec(svg)![1]);
  const h = Number(/height="(\d+)"/.exec(svg)![1]);
  const { data, info } = await sharp(new TextEncoder().encode(svg)).raw().toBuffer({
    resolveWithObject: true,
  });
  assertEquals([info.width, info.height], [w, h]);
  // Not blank: the coloured sub-kernels are drawn.
  let coloured = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) {
      coloured++;
    }
  }
  assert(coloured > 500, `only ${coloured} coloured pixels`);
});
