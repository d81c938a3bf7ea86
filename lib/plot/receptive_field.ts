/**
 * A drawing of SSPCAB's masked receptive field: the (2k + 2d + 1)² window of input positions one output
 * position sees, with the four k×k sub-kernels K1…K4 in the corners and the masked centre M that the block
 * has to predict from them. The layout comes from {@link sspcabOffsets} (the same offsets the forward pass
 * slices with), so the picture is what the code computes: K*i* is `conv`*i*.
 * @module
 */
import { type SspcabConfig, sspcabOffsets } from "../model/sspcab.ts";
import { PALETTE } from "./figure.ts";
import { escapeXml, FONT_FAMILY, textWidth } from "./svg.ts";

/** What one cell of the window is: a sub-kernel, the masked centre, or a gap. */
export type FieldCell = "K1" | "K2" | "K3" | "K4" | "M" | "";

/** The receptive field as a grid. */
export interface ReceptiveField {
  /** Side of the window: 2k + 2d + 1. */
  side: number;
  /** `cells[row][col]`. */
  cells: FieldCell[][];
  /** Sub-kernel size k. */
  kernelDim: number;
  /** Distance d between the sub-kernels and the masked centre. */
  dilation: number;
}

function checkConfig(config: Pick<SspcabConfig, "kernelDim" | "dilation">): void {
  const { kernelDim: k, dilation: d } = config;
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(d) || d < 0) {
    throw new RangeError(
      `SSPCAB receptive field: kernelDim must be an integer >= 1 and dilation an integer >= 0 (got k=${k}, d=${d})`,
    );
  }
}

/**
 * The receptive field of one SSPCAB output position: which cells of the (2k + 2d + 1)² window belong to
 * which sub-kernel (from {@link sspcabOffsets}) and where the masked centre is.
 */
export function receptiveField(config: Pick<SspcabConfig, "kernelDim" | "dilation">): ReceptiveField {
  checkConfig(config);
  const k = config.kernelDim;
  const d = config.dilation;
  const side = 2 * k + 2 * d + 1;
  const cells: FieldCell[][] = Array.from({ length: side }, () => Array<FieldCell>(side).fill(""));
  const offsets = sspcabOffsets({
    channels: 1,
    kernelDim: k,
    dilation: d,
    reductionRatio: 1,
    padding: "zeros",
  });
  offsets.forEach(([r0, c0], i) => {
    for (let r = r0; r < r0 + k; r++) {
      for (let c = c0; c < c0 + k; c++) cells[r][c] = `K${i + 1}` as FieldCell;
    }
  });
  const centre = k + d;
  cells[centre][centre] = "M";
  return { side, cells, kernelDim: k, dilation: d };
}

/** Options of {@link receptiveFieldSvg}. */
export interface ReceptiveFieldOptions {
  /** Side of one cell in px (default: 40, smaller for large windows). */
  cellSize?: number;
  /** Title (default `SSPCAB receptive field (k = …, d = …)`); empty for none. */
  title?: string;
  /** Prefix of the SVG element ids (several drawings in one page need different ones). */
  idPrefix?: string;
}

/** Sub-kernel colours: K1…K4. */
const KERNEL_COLORS = [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4]];

/**
 * An SVG drawing of the receptive field: the window's cells, the sub-kernels K1…K4 coloured and labelled,
 * the masked centre M hatched, and brackets measuring k (a sub-kernel's side) and d (the gap between a
 * sub-kernel and M), with a legend line underneath.
 */
export function receptiveFieldSvg(
  config: Pick<SspcabConfig, "kernelDim" | "dilation">,
  options: ReceptiveFieldOptions = {},
): string {
  const field = receptiveField(config);
  const { side, cells, kernelDim: k, dilation: d } = field;
  const cell = options.cellSize ?? Math.max(14, Math.min(40, Math.floor(360 / side)));
  const id = options.idPrefix ?? `rf-k${k}-d${d}`;
  const title = options.title ?? `SSPCAB receptive field (k = ${k}, d = ${d})`;
  const margin = 24;
  const titleH = title ? 30 : 0;
  const grid = side * cell;
  const left = margin + 18;
  const top = titleH + margin;
  const bracketH = 48;
  const legendH = 44;
  const width = Math.max(grid + left + margin, 560);
  const height = top + grid + bracketH + legendH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${FONT_FAMILY}" data-kernel-dim="${k}" data-dilation="${d}">`,
  );
  out.push(
    `<defs><pattern id="${id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" ` +
      `patternTransform="rotate(45)"><rect width="6" height="6" fill="#444444"/>` +
      `<line x1="0" y1="0" x2="0" y2="6" stroke="#888888" stroke-width="3"/></pattern></defs>`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (title) {
    out.push(
      `<text x="${margin}" y="${titleH - 6}" font-size="16" font-weight="bold" fill="#222222">${
        escapeXml(title)
      }</text>`,
    );
  }
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const kind = cells[r][c];
      const x = left + c * cell;
      const y = top + r * cell;
      const fill = kind === "M" ? `url(#${id}-hatch)` : kind ? KERNEL_COLORS[Number(kind[1]) - 1] : "#ffffff";
      out.push(
        `<rect class="cell${kind ? ` ${kind}` : ""}" x="${x}" y="${y}" width="${cell}" height="${cell}" ` +
          `fill="${fill}" fill-opacity="${
            kind && kind !== "M" ? 0.85 : 1
          }" stroke="#bbbbbb" stroke-width="1"/>`,
      );
    }
  }
  // Labels: one per sub-kernel block (centred on it) and on M.
  const labelSize = Math.max(9, Math.min(15, Math.floor(cell * 0.4)));
  const offsets = sspcabOffsets({
    channels: 1,
    kernelDim: k,
    dilation: d,
    reductionRatio: 1,
    padding: "zeros",
  });
  offsets.forEach(([r0, c0], i) => {
    const cx = left + (c0 + k / 2) * cell;
    const cy = top + (r0 + k / 2) * cell;
    out.push(
      `<rect x="${left + c0 * cell}" y="${top + r0 * cell}" width="${k * cell}" height="${
        k * cell
      }" fill="none" ` +
        `stroke="${KERNEL_COLORS[i]}" stroke-width="2.5"/>`,
    );
    out.push(
      `<text x="${cx}" y="${
        cy + labelSize / 3
      }" font-size="${labelSize}" font-weight="bold" fill="#ffffff" ` +
        `text-anchor="middle">K${i + 1}</text>`,
    );
  });
  const mc = left + (k + d + 0.5) * cell;
  const mr = top + (k + d + 0.5) * cell;
  out.push(
    `<rect x="${mc - labelSize * 0.75}" y="${mr - labelSize * 0.7}" width="${labelSize * 1.5}" ` +
      `height="${labelSize * 1.4}" fill="#ffffff" rx="3"/>`,
  );
  out.push(
    `<text x="${mc}" y="${mr + labelSize / 3}" font-size="${labelSize}" font-weight="bold" fill="#222222" ` +
      `text-anchor="middle">M</text>`,
  );
  // Brackets under the grid: k over the first k columns, d over the gap between K3 and M.
  const by = top + grid + 8;
  const bracket = (c0: number, n: number, label: string, color: string, dy: number) => {
    if (n <= 0) return;
    const x0 = left + c0 * cell + 2;
    const x1 = left + (c0 + n) * cell - 2;
    out.push(
      `<path d="M${x0} ${by} v6 H${x1} v-6" fill="none" stroke="${color}" stroke-width="1.5"/>`,
      `<text x="${(x0 + x1) / 2}" y="${by + 22 + dy}" font-size="12" fill="${color}" text-anchor="middle">` +
        `${escapeXml(label)}</text>`,
    );
  };
  const kLabel = `k = ${k}`;
  const dLabel = `d = ${d}`;
  // The two labels sit side by side when their centres are far enough apart, else d's goes a line lower.
  const apart = ((k + d) * cell) / 2 >= (textWidth(kLabel, 12) + textWidth(dLabel, 12)) / 2 + 4;
  bracket(0, k, kLabel, "#222222", 0);
  bracket(k, d, dLabel, "#d62728", apart ? 0 : 14);
  const ly = top + grid + bracketH + 16;
  out.push(
    `<text x="${margin}" y="${ly}" font-size="12" fill="#222222">${
      escapeXml(`K1…K4: k×k convolutions (conv1…conv4), summed; M: masked centre, predicted.`)
    }</text>`,
    `<text x="${margin}" y="${ly + 18}" font-size="12" fill="#555555">${
      escapeXml(`Window ${side}×${side}; ${4 * k * k} of its ${side * side} positions are seen, M never.`)
    }</text>`,
  );
  out.push("</svg>");
  return out.join("\n");
}
