"""REST API benchmark: the gateway's AAS API vs the BaSyx Python SDK 1.2.1 HTTP server, same run, same model.

Measures requests/s and p50/p99 latency under concurrent keep-alive load from a separate process
(`wrk`, loopback only) for:

  ours   GET /api/v3.0/submodels/{id}/submodel-elements/{path}/$value   (ValueOnly of a numeric Property;
                                                                          anonymous, and again with an API key)
  ours   GET /api/v3.0/submodels/{id}                                    (normal JSON)
  BaSyx  GET /api/v3.0/submodels/{id}/submodel-elements/{path}           (normal JSON; BaSyx 1.2.1 answers 501
                                                                          to every $value, so this is the
                                                                          comparison for our $value)
  BaSyx  GET /api/v3.0/submodels/{id}                                    (normal JSON)

Our side: the repository built from deploy/example-config.yaml by aas_models, served by
gateway.api.create_app(repo) with uvicorn, 1 worker (the model lives in one process; the pipeline
mutates it in place) -- see benchmarks/gateway_server.py. The model is then exported from our server
(GET /api/v3.0/serialization) and that JSON is loaded into BaSyx 1.2.1 (`basyx.aas.adapter.http.WSGIApp`,
read with the 1.2.1 JSON adapter) served by gunicorn (sync workers, see benchmarks/basyx_server.py),
in its own virtualenv. Before measuring, every endpoint is checked for 200 and the right content,
and the two submodel documents are compared element by element.

Every measurement: the same connections, duration and wrk threads, after a warm-up. With --rounds N
the four measurements are repeated N times, interleaved, and the median round is reported.
Ratios are ours / BaSyx from this same run. Results: benchmarks/results/api.json (and printed).

Requirements (once):
    apt-get install -y wrk                  # the load generator (Debian package)
    pip install -e '.[bench]'               # the project itself, psutil
The BaSyx virtualenv is created by this script on first use, under benchmarks/.venv-basyx
(python -m venv + pip install basyx-python-sdk==1.2.1 gunicorn==27.0.1); --recreate-venv rebuilds it.
Add to .gitignore:  benchmarks/.venv-basyx/

Run:
    python benchmarks/api.py                                  # 32 connections, 5 s warm-up, 10 s per measurement
    python benchmarks/api.py --connections 64 --seconds 20 --rounds 3
    python benchmarks/api.py --basyx-workers 2                # BaSyx with 2 workers only (default 2,1)
    python benchmarks/api.py --ceiling                        # plus a one-route FastAPI app on our server settings

Server settings. Ours: one uvicorn process (the model lives in one process and the pipeline mutates it
in place, so the gateway cannot run several workers), the default asyncio loop and httptools, as
`aas-gateway run` serves it. BaSyx: gunicorn, sync workers, 2 workers (= the cores; the baseline for the
ratios) and 1 worker (one process, like ours). Why gunicorn sync: BaSyx's WSGIApp is CPU-bound Python,
so threads share one GIL; on this machine (test model, one Property, 32 connections) gunicorn sync gave
BaSyx 8.0k req/s with 2 workers, gunicorn gthread (2 x 4 threads, keep-alive) 3.8k and waitress
(4 threads, one process) 3.2k, so sync workers are BaSyx's strongest production setup here; 4 workers
gave only 3% more than 2 while competing with wrk for the 2 cores.

All servers are started and stopped by this script (on error and Ctrl-C too), on free loopback ports.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from machine import machine_busy_seconds, wait_quiet  # benchmarks/machine.py
from machine import machine_info as _machine_info

from gateway.auth.apikeys import ApiKeyStore

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results" / "api.json"
BASYX_VENV = BENCH / ".venv-basyx"
BASYX_REQUIREMENTS = ["basyx-python-sdk==1.2.1", "gunicorn==27.0.1"]
BASE = "/api/v3.0"

WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def b64url(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def get_json(url: str) -> Any:
    status, body, _ = http_get(url)
    if status != 200:
        raise RuntimeError(f"GET {url} -> {status}: {body[:300]!r}")
    return json.loads(body)


# ---------------------------------------------------------------- processes


class Processes:
    """Servers this run started; each in its own session so its workers go with it. Stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              log: Path | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "wb") if log else subprocess.DEVNULL
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop(self, p: subprocess.Popen[bytes]) -> None:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def stop_all(self) -> None:
        for _, p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}\n{tail}")
        try:
            status, _, _ = http_get(url, timeout=2)
            if status < 500:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} within {timeout} s")


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its live children (gunicorn workers)."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for q in procs:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total




# ---------------------------------------------------------------- BaSyx venv


def ensure_basyx_venv(recreate: bool) -> dict[str, str]:
    marker = BASYX_VENV / "bench-requirements.txt"
    wanted = "\n".join(BASYX_REQUIREMENTS) + "\n"
    py = BASYX_VENV / "bin" / "python"
    if recreate and BASYX_VENV.exists():
        shutil.rmtree(BASYX_VENV)
    if not (py.exists() and marker.exists() and marker.read_text() == wanted):
        print(f"creating the BaSyx 1.2.1 virtualenv in {BASYX_VENV} ...", flush=True)
        if BASYX_VENV.exists():
            shutil.rmtree(BASYX_VENV)
        subprocess.run([sys.executable, "-m", "venv", str(BASYX_VENV)], check=True)
        pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              *BASYX_REQUIREMENTS], capture_output=True, text=True)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(BASYX_REQUIREMENTS)} failed:\n{pip.stdout}{pip.stderr}")
        marker.write_text(wanted)
    out = subprocess.run([str(py), "-c", "import json, platform, importlib.metadata as m; print(json.dumps({"
                          "'python': platform.python_version(), 'basyx-python-sdk': m.version('basyx-python-sdk'),"
                          "'gunicorn': m.version('gunicorn'), 'werkzeug': m.version('werkzeug')}))"],
                         check=True, capture_output=True, text=True).stdout
    versions: dict[str, str] = json.loads(out)
    return versions


# ---------------------------------------------------------------- load generator


def run_wrk(url: str, args: argparse.Namespace, seconds: float, lua: Path,
            headers: tuple[str, ...] = ()) -> dict[str, Any]:
    argv = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds:g}s",
            "--timeout", "10s", "--latency", "-s", str(lua), *(a for h in headers for a in ("-H", h)), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr or r.stdout}")
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{r.stdout}\n{r.stderr}")
    s = json.loads(line[len("WRKJSON "):])
    s["wrk_cpu_s"] = round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3)
    return s




def measure(name: str, url: str, server_pid: int, args: argparse.Namespace, lua: Path,
            warmup: float, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    if warmup > 0:
        run_wrk(url, args, warmup, lua, headers)
    cpu0 = tree_cpu_seconds(server_pid)
    busy0 = machine_busy_seconds()
    s = run_wrk(url, args, args.seconds, lua, headers)
    busy = machine_busy_seconds() - busy0
    server_cpu = tree_cpu_seconds(server_pid) - cpu0
    errors = {k: s[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")}
    secs = s["duration_us"] / 1e6
    rps = s["requests"] / secs
    res = {
        "name": name,
        "url": url,
        "requests": s["requests"],
        "seconds": round(secs, 3),
        "requests_per_s": round(rps, 1),
        "p50_ms": round(s["p50_us"] / 1000, 3),
        "p90_ms": round(s["p90_us"] / 1000, 3),
        "p99_ms": round(s["p99_us"] / 1000, 3),
        "mean_ms": round(s["mean_us"] / 1000, 3),
        "max_ms": round(s["max_us"] / 1000, 3),
        "bytes_per_response": round(s["bytes"] / max(s["requests"], 1), 1),
        "errors": errors,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(s["requests"], 1), 4),
        "server_cores_used": round(server_cpu / secs, 2),
        "wrk_cpu_s": s["wrk_cpu_s"],
        # CPU the rest of the machine used meanwhile (other processes): large values mean a disturbed run
        "other_cpu_s": round(max(busy - server_cpu - s["wrk_cpu_s"], 0.0), 2),
        "machine_busy_cores_before": busy_before,
    }
    # wrk counts a "read error" when a server closes a connection it had announced as closing
    # (gunicorn sync workers answer "Connection: close"); status errors are non-2xx/3xx answers.
    if errors["status_errors"] or errors["timeouts"] or errors["connect_errors"]:
        raise RuntimeError(f"{name}: errors during the run: {errors}")
    print(f"  {name:<28} {rps:>9.0f} req/s   p50 {res['p50_ms']:>7.2f} ms   p99 {res['p99_ms']:>7.2f} ms"
          f"   server {res['server_cores_used']:.2f} cores, wrk {s['wrk_cpu_s'] / secs:.2f}, other"
          f" {res['other_cpu_s'] / secs:.2f}", flush=True)
    return res


# ---------------------------------------------------------------- checks


def id_short_paths(elements: list[dict[str, Any]], prefix: str = "") -> dict[str, str]:
    """idShortPath -> modelType for a normal-JSON submodelElements list (collections, lists, entities)."""
    out: dict[str, str] = {}
    for i, el in enumerate(elements):
        if "idShort" in el:
            key = f"{prefix}.{el['idShort']}" if prefix else el["idShort"]
        else:  # an element of a SubmodelElementList
            key = f"{prefix}[{i}]"
        out[key] = el.get("modelType", "?")
        children = None
        if el.get("modelType") in ("SubmodelElementCollection", "SubmodelElementList"):
            children = el.get("value") or []
        elif el.get("modelType") == "Entity":
            children = el.get("statements") or []
        elif el.get("modelType") == "AnnotatedRelationshipElement":
            children = el.get("annotations") or []
        if children:
            out.update(id_short_paths(children, key))
    return out


def result_list(doc: Any) -> list[Any]:
    return doc["result"] if isinstance(doc, dict) and "result" in doc else doc


def find_submodel(base: str, asset: str, path: str) -> tuple[str, str, str]:
    """(shell id, submodel id, submodel idShort) of the asset's submodel that has `path`, via the API."""
    shells = result_list(get_json(f"{base}/shells?limit=1000"))
    shell = next((s for s in shells if s.get("idShort") == asset), None)
    if shell is None:
        raise RuntimeError(f"no shell with idShort {asset!r} (have {[s.get('idShort') for s in shells]})")
    quoted = urllib.parse.quote(path, safe=".")
    for ref in shell.get("submodels", []):
        sm_id = ref["keys"][-1]["value"]
        status, _, _ = http_get(f"{base}/submodels/{b64url(sm_id)}/submodel-elements/{quoted}/$value")
        if status == 200:
            sm = get_json(f"{base}/submodels/{b64url(sm_id)}")
            return shell["id"], sm_id, sm.get("idShort", "")
    raise RuntimeError(f"no submodel of {asset} has an element {path!r}")


def check_endpoints(urls: dict[str, str], sm_id: str, path: str) -> dict[str, Any]:
    info: dict[str, Any] = {}
    last = path.split(".")[-1]

    status, body, headers = http_get(urls["ours_value"])
    v = json.loads(body) if status == 200 else None
    if isinstance(v, dict) and list(v) == [last]:  # the named ValueOnly form {"Speed": 1004.25}
        v = v[last]
    if status != 200 or isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RuntimeError(f"ours $value: expected 200 and a JSON number (bare or {{{last!r}: n}}), "
                           f"got {status} {body[:200]!r}")
    info["ours_value"] = {"status": status, "body": body.decode(), "content_type": headers.get("content-type")}

    ours_sm = None
    for key in ("ours_submodel", "basyx_submodel"):
        status, body, headers = http_get(urls[key])
        doc = json.loads(body) if status == 200 else None
        if status != 200 or not isinstance(doc, dict) or doc.get("id") != sm_id or doc.get("modelType") != "Submodel":
            raise RuntimeError(f"{key}: expected 200 and Submodel {sm_id}, got {status} {body[:200]!r}")
        info[key] = {"status": status, "bytes": len(body), "elements": len(id_short_paths(doc["submodelElements"])),
                     "content_type": headers.get("content-type")}
        if key == "ours_submodel":
            ours_sm = doc
        else:
            a, b = id_short_paths(ours_sm["submodelElements"]), id_short_paths(doc["submodelElements"])  # type: ignore[index]
            info["submodel_differences"] = {
                "only_in_ours": sorted(set(a) - set(b)), "only_in_basyx": sorted(set(b) - set(a)),
                "model_type_differs": sorted(k for k in set(a) & set(b) if a[k] != b[k])}

    status, body, headers = http_get(urls["basyx_element"])
    doc = json.loads(body) if status == 200 else None
    if (status != 200 or not isinstance(doc, dict) or doc.get("idShort") != last
            or doc.get("modelType") != "Property"):
        raise RuntimeError(f"basyx element: expected 200 and Property {last}, got {status} {body[:200]!r}")
    float(doc["value"])  # normal JSON: the value as a string holding a number
    info["basyx_element"] = {"status": status, "body": body.decode(), "content_type": headers.get("content-type")}

    status, body, _ = http_get(urls["basyx_element"] + "/$value")
    info["basyx_value_status"] = status  # 501 in 1.2.1: why the element GET is the comparison
    return info


# ---------------------------------------------------------------- machine


def git_info() -> dict[str, Any]:
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else "?"

    return {"head": git("rev-parse", "HEAD"),
            "uncommitted_in_served_code": git("status", "--porcelain", "gateway", "aas_models").splitlines()}


def machine_info() -> dict[str, Any]:
    info = _machine_info(packages=("aas-edge-gateway", "fastapi", "starlette", "uvicorn", "uvloop", "httptools",
                                   "pydantic", "basyx-python-sdk", "orjson"))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    info["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "?"
    return info


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    ap.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds before each endpoint (default 5)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the measurements, report the median (default 1)")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help="before each measurement wait up to this many s for the machine to be idle (default 30)")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: leaves the cores to servers)")
    ap.add_argument("--basyx-workers", default="2,1",
                    help="gunicorn sync workers for BaSyx; a comma list measures each, the first is the baseline"
                         " for the ratios (default 2,1: one per core as the baseline, and 1 as a single process"
                         " like ours)")
    ap.add_argument("--ceiling", action="store_true",
                    help="also measure a one-route FastAPI app answering $value with a constant, on the same"
                         " uvicorn settings as ours (what FastAPI in one process can reach here)")
    ap.add_argument("--config", type=Path, default=ROOT / "deploy" / "example-config.yaml")
    ap.add_argument("--asset", default="CNC01", help="idShort of the shell (default CNC01)")
    ap.add_argument("--path", default="Spindle.Speed", help="idShortPath of a numeric Property (default Spindle.Speed)")
    ap.add_argument("--recreate-venv", action="store_true", help="rebuild benchmarks/.venv-basyx")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    basyx_workers = [int(w) for w in args.basyx_workers.split(",") if w.strip()]
    basyx_versions = ensure_basyx_venv(args.recreate_venv)
    tmp = Path(tempfile.mkdtemp(prefix="api-bench-"))
    lua = tmp / "report.lua"
    lua.write_text(WRK_LUA)
    results: dict[str, Any] = {"benchmark": "api", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "git": git_info(), "machine": machine_info(), "basyx_venv": basyx_versions}
    try:
        with Processes() as procs:
            # ---- ours
            ours_port = free_port()
            ours_log = tmp / "ours.log"
            # anonymous read like BaSyx, plus one reader API key: what an authenticated MES client costs
            api_key, _ = ApiKeyStore(tmp / "api-keys.json").create("benchmark", "reader")
            key_header = (f"Authorization: Bearer {api_key}",)
            ours = procs.start("ours", [sys.executable, str(BENCH / "gateway_server.py"), "--config", str(args.config),
                                        "--host", "127.0.0.1", "--port", str(ours_port),
                                        "--api-keys", str(tmp / "api-keys.json")], log=ours_log, cwd=ROOT)
            ours_base = f"http://127.0.0.1:{ours_port}{BASE}"
            wait_http(f"{ours_base}/shells", ours, 60, ours_log)
            shell_id, sm_id, sm_id_short = find_submodel(ours_base, args.asset, args.path)
            ready = [ln for ln in ours_log.read_text().splitlines() if ln.startswith('{"ready"')]
            ours_ready = {k: v for k, v in json.loads(ready[0]).items() if k in ("loop", "http", "values_set")} \
                if ready else {}

            # ---- the same model, exported by our server, into BaSyx 1.2.1
            status, model_json, _ = http_get(f"{ours_base}/serialization")
            if status != 200:
                raise RuntimeError(f"GET /serialization -> {status}: {model_json[:300]!r}")
            model_file = tmp / "model.json"
            model_file.write_bytes(model_json)

            quoted = urllib.parse.quote(args.path, safe=".")
            sm_b64 = b64url(sm_id)
            urls = {"ours_value": f"{ours_base}/submodels/{sm_b64}/submodel-elements/{quoted}/$value",
                    "ours_submodel": f"{ours_base}/submodels/{sm_b64}"}
            results["model"] = {"config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT)
                                              else args.config),
                                "serialization_bytes": len(model_json), "asset": args.asset, "shell_id": shell_id,
                                "submodel_id": sm_id, "submodel_id_short": sm_id_short,
                                "submodel_id_b64url": sm_b64, "path": args.path}
            results["settings"] = {
                "load_generator": {"tool": "wrk", "threads": args.wrk_threads, "connections": args.connections,
                                   "warmup_s": args.warmup, "seconds": args.seconds, "rounds": args.rounds,
                                   "quiet_wait_s": args.quiet_wait, "summary": "median round per measurement",
                                   "host": "127.0.0.1",
                                   "connections_note": "wrk keeps its connections open; uvicorn keeps them alive, "
                                   "gunicorn sync workers answer 'Connection: close', so wrk reconnects for every "
                                   "BaSyx request (that is how sync workers serve)"},
                "ours": {"server": "uvicorn, 1 process, via the gateway's gateway.api_server.ApiServer "
                                   "(benchmarks/gateway_server.py)", "workers": 1, **ours_ready,
                         "access_log": False},
                "basyx": {"server": "gunicorn", "worker_class": "sync", "workers": basyx_workers,
                          "why": "WSGIApp is CPU-bound Python: processes, not threads, use both cores; sync was "
                                 "BaSyx's fastest gunicorn/waitress setup on this machine (see the docstring)",
                          "baseline_workers": basyx_workers[0], "access_log": False,
                          "app": "basyx.aas.adapter.http.WSGIApp (benchmarks/basyx_server.py)"},
            }

            basyx_servers: dict[int, tuple[subprocess.Popen[bytes], str]] = {}
            for w in basyx_workers:
                port = free_port()
                blog = tmp / f"basyx-{w}.log"
                env = {**os.environ, "BASYX_MODEL_JSON": str(model_file),
                       "BASYX_LOAD_REPORT": str(tmp / "basyx-load.json")}
                p = procs.start(f"basyx-{w}", [str(BASYX_VENV / "bin" / "gunicorn"), "--no-control-socket",
                                               "--chdir", str(BENCH), "--bind", f"127.0.0.1:{port}",
                                               "--workers", str(w), "--worker-class", "sync",
                                               "--log-level", "warning", "basyx_server:app"],
                                env=env, log=blog)
                base = f"http://127.0.0.1:{port}{BASE}"
                wait_http(f"{base}/shells", p, 60, blog)
                basyx_servers[w] = (p, base)
            load = json.loads((tmp / "basyx-load.json").read_text())
            if any("'xs:unsignedInt'" in m for m in load["dropped_or_warned"]):
                load["note"] = ("basyx-python-sdk 1.2.1 maps UnsignedInt to 'unsignedByte' in XSD_TYPE_NAMES "
                                "(basyx/aas/model/datatypes.py), so its JSON reader cannot read xs:unsignedInt "
                                "Properties; the failsafe reader drops exactly those elements (see dropped_or_warned), "
                                "nothing else")
            results["basyx_model_load"] = load

            checks = {}
            for w, (_, base) in basyx_servers.items():
                urls_w = {**urls, "basyx_element": f"{base}/submodels/{sm_b64}/submodel-elements/{quoted}",
                          "basyx_submodel": f"{base}/submodels/{sm_b64}"}
                checks[f"basyx_workers_{w}"] = check_endpoints(urls_w, sm_id, args.path)
            results["checks"] = checks

            plan: list[tuple[str, str, int]] = [
                ("ours $value", urls["ours_value"], ours.pid),
                ("ours $value (API key)", urls["ours_value"], ours.pid),
                ("ours GET submodel", urls["ours_submodel"], ours.pid)]
            plan_headers = {"ours $value (API key)": key_header}
            for w, (p, base) in basyx_servers.items():
                plan += [(f"basyx[{w}w] GET element", f"{base}/submodels/{sm_b64}/submodel-elements/{quoted}", p.pid),
                         (f"basyx[{w}w] GET submodel", f"{base}/submodels/{sm_b64}", p.pid)]

            if args.ceiling:
                cport = free_port()
                clog = tmp / "ceiling.log"
                cproc = procs.start("ceiling", [sys.executable, str(BENCH / "gateway_server.py"), "--trivial",
                                                "--host", "127.0.0.1", "--port", str(cport)], log=clog, cwd=ROOT)
                cbase = f"http://127.0.0.1:{cport}{BASE}"
                wait_http(f"{cbase}/shells", cproc, 60, clog)
                curl = f"{cbase}/submodels/{sm_b64}/submodel-elements/{quoted}/$value"
                if http_get(curl)[:2] != (200, b"1004.25"):
                    raise RuntimeError(f"ceiling app: unexpected answer from {curl}")
                plan.append(("fastapi 1-route $value", curl, cproc.pid))
                results["settings"]["ceiling"] = {
                    "server": "the same uvicorn server as ours (gateway.api_server.ApiServer), one FastAPI route "
                              "returning a constant 7-byte body (benchmarks/gateway_server.py --trivial)"}

            rounds: list[dict[str, dict[str, Any]]] = []
            for r in range(args.rounds):
                print(f"round {r + 1}/{args.rounds}: {args.connections} connections, {args.seconds:g} s each"
                      f" after {args.warmup:g} s warm-up", flush=True)
                rounds.append({name: measure(name, url, pid, args, lua, args.warmup, plan_headers.get(name, ()))
                               for name, url, pid in plan})
            results["rounds"] = rounds
    except BaseException as e:
        print(f"benchmark failed: {e!r}", file=sys.stderr)
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace")[-2000:]
            if tail.strip():
                print(f"--- {log.name}\n{tail}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # median round per measurement (by requests/s)
    summary: dict[str, dict[str, Any]] = {}
    for name, _, _ in plan:
        runs = sorted((rd[name] for rd in rounds), key=lambda m: m["requests_per_s"])
        summary[name] = runs[len(runs) // 2]
        if len(runs) > 1:
            summary[name] = {**summary[name], "requests_per_s_all_rounds": [m["requests_per_s"] for m in runs],
                             "requests_per_s_median": statistics.median(m["requests_per_s"] for m in runs)}
    results["summary"] = summary
    ratios: dict[str, Any] = {}
    for w in basyx_workers:
        el, sm = summary[f"basyx[{w}w] GET element"], summary[f"basyx[{w}w] GET submodel"]
        ov, os_ = summary["ours $value"], summary["ours GET submodel"]
        ratios[f"basyx_{w}_workers"] = {
            "value_vs_element_rps": round(ov["requests_per_s"] / el["requests_per_s"], 2),
            "submodel_vs_submodel_rps": round(os_["requests_per_s"] / sm["requests_per_s"], 2),
            "value_vs_element_p50": round(ov["p50_ms"] / el["p50_ms"], 2),
            "value_vs_element_p99": round(ov["p99_ms"] / el["p99_ms"], 2),
            "submodel_vs_submodel_p50": round(os_["p50_ms"] / sm["p50_ms"], 2),
            "submodel_vs_submodel_p99": round(os_["p99_ms"] / sm["p99_ms"], 2),
        }
    ratios["ours_value_api_key_vs_anonymous"] = round(
        summary["ours $value (API key)"]["requests_per_s"] / summary["ours $value"]["requests_per_s"], 2)
    if args.ceiling:
        ratios["ours_value_vs_fastapi_1_route"] = round(
            summary["ours $value"]["requests_per_s"] / summary["fastapi 1-route $value"]["requests_per_s"], 2)
    results["ratios"] = ratios
    base_ratio = ratios[f"basyx_{basyx_workers[0]}_workers"]["value_vs_element_rps"]
    results["target"] = {"criterion": "ours $value req/s >= 3x BaSyx element GET req/s (same run)",
                         "ratio": base_ratio, "met": base_ratio >= 3.0}

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    print()
    print(f"{'measurement':<28} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'bytes':>7} {'srv cores':>9}")
    for name, m in summary.items():
        print(f"{name:<28} {m['requests_per_s']:>10.0f} {m['p50_ms']:>9.2f} {m['p99_ms']:>9.2f}"
              f" {m['bytes_per_response']:>7.0f} {m['server_cores_used']:>9.2f}")
    for key, r in ratios.items():
        if not isinstance(r, dict):
            print(f"{key}: {r}x req/s")
            continue
        print(f"ours / BaSyx ({key.replace('_', ' ')}): $value vs element GET {r['value_vs_element_rps']}x req/s,"
              f" GET submodel {r['submodel_vs_submodel_rps']}x req/s")
    print(f"target (>= 3x): {'met' if results['target']['met'] else 'NOT met'} ({base_ratio}x)")
    print(f"results: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
