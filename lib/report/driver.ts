/**
 * The Python side of the report runner: a small script run with the interpreter that has Jupyter's own
 * tooling (nbclient, nbconvert, nbformat). It executes one notebook with nbclient — cell by cell, stopping
 * at the first failing cell — writes the executed (or partly executed) notebook, converts a successful one to
 * HTML with nbconvert's `lab` template (images embedded, SVG outputs kept intact), and reports each step as one JSON object per line
 * on stdout, which `execute.ts` reads.
 *
 * The Deno kernel (2.x) sometimes publishes a cell's `execute_result` just *after* its `idle` status, and
 * nbclient stops listening at `idle`, so the output would be lost at random. The driver's client therefore
 * keeps draining the cell's IOPub messages for a short grace period (`late_output_grace`, default 0.25 s;
 * the gap measured is under a millisecond) after `idle`.
 *
 * Input: one JSON object on stdin:
 * `{ notebook, output, html, kernel, timeout, startup_timeout, cwd, late_output_grace }`.
 * Events: `start` (cells, kernel), `cell_start` / `cell_done` (index, first line, seconds), `error` (index,
 * first line, ename, evalue, traceback — or `kind: "timeout" | "kernel"`), `html`, `done`.
 * @module
 */

/** The driver script (Python 3, nbclient ≥ 0.6 for the cell hooks, nbconvert ≥ 6). */
export const DRIVER_PY: string = String.raw`
import json, sys, time, traceback as tb

def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()

def first_line(source):
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""

def make_client_class(grace):
    from queue import Empty
    from time import monotonic
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete
    try:
        from nbclient.util import ensure_async
    except ImportError:
        from jupyter_core.utils import ensure_async

    class LateOutputClient(NotebookClient):
        """NotebookClient that also collects a cell's messages arriving shortly after its idle status."""

        async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
            while True:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
                if msg["parent_header"].get("msg_id") != parent_msg_id:
                    continue
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    break
            deadline = monotonic() + grace
            while True:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    return
                try:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=remaining))
                except Empty:
                    return
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        pass

    if not hasattr(NotebookClient, "_async_poll_output_msg") or grace <= 0:
        return NotebookClient
    return LateOutputClient

def main():
    cfg = json.loads(sys.stdin.read())
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    NotebookClient = make_client_class(float(cfg.get("late_output_grace", 0.25)))

    nb = nbformat.read(cfg["notebook"], as_version=4)
    kernel = cfg.get("kernel") or nb.metadata.get("kernelspec", {}).get("name") or "deno"
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    emit(event="start", cells=len(nb.cells), code_cells=code_cells, kernel=kernel)
    state = {"current": None, "t0": None, "error": None}

    def on_cell_start(cell, cell_index, **kw):
        if cell.cell_type == "code" and cell.source.strip():
            state["current"] = cell_index
            state["t0"] = time.time()
            emit(event="cell_start", index=cell_index, first_line=first_line(cell.source))

    def on_cell_executed(cell, cell_index, execute_reply=None, **kw):
        emit(event="cell_done", index=cell_index, seconds=round(time.time() - (state["t0"] or time.time()), 3),
             status=(execute_reply or {}).get("content", {}).get("status", "ok"))

    def on_cell_error(cell, cell_index, execute_reply=None, **kw):
        content = (execute_reply or {}).get("content", {})
        state["error"] = dict(index=cell_index, first_line=first_line(cell.source), kind="error",
                              ename=content.get("ename", ""), evalue=content.get("evalue", ""),
                              traceback=content.get("traceback", []))

    timeout = cfg.get("timeout")
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout if timeout and timeout > 0 else None,
        startup_timeout=cfg.get("startup_timeout") or 180,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": cfg["cwd"]}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
        on_cell_error=on_cell_error,
    )
    failed = None
    try:
        client.execute()
    except CellExecutionError:
        failed = state["error"] or dict(kind="error", index=state["current"], ename="", evalue="", traceback=[])
    except CellTimeoutError as e:
        failed = dict(kind="timeout", index=state["current"], ename="CellTimeoutError", evalue=str(e), traceback=[])
    except DeadKernelError as e:
        failed = dict(kind="kernel", index=state["current"], ename="DeadKernelError", evalue=str(e), traceback=[])
    except Exception as e:
        failed = dict(kind="kernel", index=state["current"], ename=type(e).__name__, evalue=str(e),
                      traceback=tb.format_exc().splitlines())
    if failed is not None and failed.get("index") is not None and "first_line" not in failed:
        failed["first_line"] = first_line(nb.cells[failed["index"]].source)
    nbformat.write(nb, cfg["output"])
    if failed is not None:
        emit(event="error", **failed)
        return 1
    if cfg.get("html"):
        from nbconvert import HTMLExporter
        # nbconvert's "clean_html" filter (lxml's cleaner in nbconvert 6) strips every SVG element but <svg>
        # itself, leaving blank figures; the outputs are our own, so keep them as they are.
        exporter = HTMLExporter(template_name="lab", embed_images=True, filters={"clean_html": lambda html: html})
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": cfg["cwd"], "name": cfg.get("title", "")}})
        with open(cfg["html"], "w", encoding="utf-8") as f:
            f.write(body)
        emit(event="html", path=cfg["html"], bytes=len(body))
    emit(event="done")
    return 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        emit(event="fatal", ename=type(e).__name__, evalue=str(e), traceback=tb.format_exc().splitlines())
        sys.exit(3)
`;
