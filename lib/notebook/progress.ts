/**
 * Live progress in a notebook. The library's progress bars (`lib/util/progress.ts`) write to a sink, stderr
 * by default, which the Deno Jupyter kernel does not forward to the notebook. While a function runs under
 * {@link withLiveProgress}, the bars it creates write to a sink of ours instead and the latest line is shown
 * in one notebook output that is updated in place (a Jupyter `display_id`), so a long extraction or training
 * shows its progress as it goes — and the executed notebook keeps the final line. Outside the kernel nothing
 * changes.
 * @module
 */
import { escapeHtml, type MimeBundle } from "./display.ts";
import { textSink, withProgressSink } from "../util/progress.ts";

/** True when running inside the Deno Jupyter kernel (`Deno.jupyter` throws elsewhere). */
export function inJupyter(): boolean {
  try {
    return typeof Deno.jupyter?.display === "function";
  } catch {
    return false;
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * The line a terminal would show last after printing `text`: carriage returns restart the line, ANSI
 * escape sequences are dropped, trailing empty lines are ignored.
 */
export function lastLine(text: string): string {
  const lines = text.replace(ANSI, "").split("\n").map((l) => {
    const parts = l.split("\r");
    for (let i = parts.length - 1; i >= 0; i--) if (parts[i].trim()) return parts[i];
    return "";
  });
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim()) return lines[i].trimEnd();
  return "";
}

function progressBundle(title: string, line: string): MimeBundle {
  return {
    "text/html": `<pre style="margin:0">${escapeHtml(title)}: ${escapeHtml(line || "starting…")}</pre>`,
    "text/plain": `${title}: ${line || "starting…"}`,
  };
}

/**
 * Run `fn` and show the progress it prints on stderr as one live-updating notebook output titled `title`
 * (updated at most every `intervalMs`, and once more at the end). Outside the Jupyter kernel it just runs
 * `fn`.
 */
export async function withLiveProgress<T>(
  title: string,
  fn: () => Promise<T>,
  intervalMs = 250,
): Promise<T> {
  if (!inJupyter()) return await fn();
  const displayId = `sspcab-progress-${crypto.randomUUID()}`;
  let buffer = "";
  let shown = "";
  let lastUpdate = 0;
  let pending: Promise<void> = Deno.jupyter.display(progressBundle(title, ""), {
    raw: true,
    display_id: displayId,
  });
  const show = (force: boolean) => {
    const line = lastLine(buffer);
    buffer = buffer.slice(-4096);
    const now = performance.now();
    if (line === shown || (!force && now - lastUpdate < intervalMs)) return;
    shown = line;
    lastUpdate = now;
    pending = pending.then(() =>
      Deno.jupyter.display(progressBundle(title, line), { raw: true, display_id: displayId, update: true })
    );
  };
  try {
    return await withProgressSink(
      textSink((text) => {
        buffer += text;
        show(false);
      }),
      fn,
    );
  } finally {
    show(true);
    await pending;
  }
}
