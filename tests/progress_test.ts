/**
 * Progress bars write to a sink given as an argument, or to the one of the enclosing `withProgressSink`
 * (scoped to that asynchronous call, also across awaits and in concurrent work), else to stderr — without
 * touching `Deno.stderr`.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { createProgress, currentProgressSink, textSink, withProgressSink } from "../lib/util/progress.ts";

Deno.test("progress: a plain sink gets a line per 10 % bucket and the final one", () => {
  const lines: string[] = [];
  const bar = createProgress({ label: "load", total: 20, unit: "img", sink: textSink((t) => lines.push(t)) });
  for (let i = 0; i < 20; i++) bar.tick();
  bar.done("ok");
  // Buckets 0 % (first tick at 5 %) … 90 %, 100 % at the last tick, then done().
  assertEquals(lines.length, 12, lines.join(""));
  assert(lines.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assertMatch(lines[0], /^load \[#{1}-{23}\] {3}5% 1\/20 img /);
  assertMatch(lines[lines.length - 1], /^load \[#{24}\] 100% 20\/20 img .* ok\n$/);
});

Deno.test("progress: an interactive sink redraws one line and keeps logged lines above it", () => {
  const out: string[] = [];
  const bar = createProgress({ label: "x", total: 4, sink: textSink((t) => out.push(t), true) });
  bar.update(1);
  bar.log("note");
  bar.update(4);
  bar.done();
  assertEquals(out[0].startsWith("\r\x1b[2Kx ["), true);
  assert(out.includes("\r\x1b[2Knote\n"), JSON.stringify(out));
  assert(out[out.length - 1].endsWith("\n") && out[out.length - 1].includes("4/4"));
});

Deno.test("progress: withProgressSink scopes the default sink to its call, across awaits and concurrent work", async () => {
  const a: string[] = [];
  const b: string[] = [];
  const stderrWrite = Deno.stderr.writeSync;
  const work = async (label: string) => {
    await new Promise((r) => setTimeout(r, 5));
    const bar = createProgress({ label, total: 1 });
    await Promise.resolve();
    bar.done();
  };
  await Promise.all([
    withProgressSink(textSink((t) => a.push(t)), () => work("first")),
    withProgressSink(textSink((t) => b.push(t)), () => work("second")),
  ]);
  assert(a.length > 0 && a.every((t) => t.startsWith("first")), JSON.stringify(a));
  assert(b.length > 0 && b.every((t) => t.startsWith("second")), JSON.stringify(b));
  assert(Deno.stderr.writeSync === stderrWrite, "stderr is not patched");
  // Outside any scope (and after one that failed) the default is stderr again.
  await assertRejects(() => withProgressSink(textSink(() => {}), () => Promise.reject(new Error("boom"))));
  const sink = currentProgressSink();
  assertEquals(sink.interactive, Deno.stderr.isTerminal());
  // An explicit sink wins over the scoped one.
  const c: string[] = [];
  await withProgressSink(textSink((t) => a.push(t)), () => {
    createProgress({ label: "explicit", sink: textSink((t) => c.push(t)) }).done();
    return Promise.resolve();
  });
  assertEquals(c.length, 1);
  assert(!a.some((t) => t.startsWith("explicit")));
});
