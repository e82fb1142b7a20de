"""An installed wheel works without the source tree.

Builds the wheel, installs it (no dependencies) into a fresh virtualenv that borrows this
interpreter's site-packages for the heavy dependencies, then runs the installed
``articleqa`` command from a folder outside the repository: ingest the sample articles and
ask a question with ``--answerer openai`` against a scripted OpenAI-compatible server in
this process. The server's recorded system message must be the prompt file shipped inside
the installed package, so a wheel without its prompts (or code that finds files through
the source tree) fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES, VOV_ID

pytestmark = pytest.mark.slow  # builds a wheel; the second test also loads the model twice

TIMEOUT = 300  # seconds, for every subprocess
QUESTION = "Which storm did Japan express sympathy about?"
FACT = "Typhoon Yagi"  # in vietnam-japan-parliamentary-agreement-vov.txt
MODEL = "scripted"
# What the wheel must carry (beyond the code) for an install to answer at all.
PACKAGED = [
    "articleqa/index/minilm/tokenizer.json",
    *(f"articleqa/data/prompts/{p}.txt" for p in ("answer_system", "answer_user", "condense_system",
                                                   "condense_user", "judge_system", "judge_user")),
    *(f"articleqa/data/sample_articles/{p.name}" for p in sorted(SAMPLES.glob("*.txt"))),
    "articleqa/data/datasets/sample_articles.jsonl",
    "articleqa/data/datasets/squad-v1.1-dev-subset.json",
]  # fmt: skip
# Copied into the build snapshot: everything but VCS data, environments and build output
# (an in-tree build would leave build/ and *.egg-info in the checkout, and a stale
# build/lib can carry files into the wheel that the source no longer has).
BUILD_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".articleqa",
    ".pytest_cache", ".ruff_cache", "reports", "test-artifacts",
)  # fmt: skip


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT, **kw)


def explain(p: subprocess.CompletedProcess) -> str:
    return (
        f"$ {' '.join(map(str, p.args))}\nexit code {p.returncode}\n"
        f"--- stdout ---\n{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-6000:]}"
    )


def check(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = run(cmd, **kw)
    assert p.returncode == 0, explain(p)
    return p


def clean_env(home: Path) -> dict[str, str]:
    """This environment minus anything that could point the install at the source tree or
    at another configuration; offline, with a home of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARTICLEQA_", "OPENAI_", "PYTHON", "PIP_", "VIRTUAL_ENV"))
        and k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(
        GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
        ANONYMIZED_TELEMETRY="False", HOME=str(home), NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost", PYTHONNOUSERSITE="1",
    )  # fmt: skip
    return env


# ---- the wheel and the virtualenv ------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    probe = run([sys.executable, "-m", "pip", "wheel", "--help"])
    if probe.returncode != 0:
        pytest.skip(f"`{sys.executable} -m pip wheel` is unavailable: {probe.stderr.strip()[-300:]}")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src-snapshot"
    shutil.copytree(ROOT, src, symlinks=True, ignore=BUILD_IGNORE)
    out = tmp / "dist"
    check([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", src, "-w", out])  # fmt: skip
    wheels = list(out.glob("articleqa-*.whl"))
    assert len(wheels) == 1, f"expected one articleqa wheel in {out}: {list(out.iterdir())}"
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict[str, Path]:
    """A fresh virtualenv with the wheel installed and this interpreter's packages visible."""
    tmp = tmp_path_factory.mktemp("venv")
    env = clean_env(tmp)
    venv = tmp / "venv"
    check([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    paths = json.loads(check([python, "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
                             env=env, cwd=tmp).stdout)  # fmt: skip
    site = Path(paths["purelib"])
    assert site.is_dir() and site.resolve().is_relative_to(venv.resolve()), site
    # The dependencies, without a network: a path line in a .pth adds that folder to
    # sys.path, but .pth files inside it (e.g. the editable install's) are not processed.
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_articleqa_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(outer)))

    before = check([python, "-c", "import importlib.util; s = importlib.util.find_spec('articleqa'); "
                                  "print(s.origin if s else '')"], env=env, cwd=tmp)  # fmt: skip
    assert before.stdout.strip() == "", (
        f"articleqa is importable in the new virtualenv before installing the wheel: {before.stdout}"
    )
    # This interpreter's pip, run by the new venv's python: installs into that venv (package
    # in its site-packages, console script in its bin/ with its python in the shebang).
    # --ignore-installed: never uninstall the articleqa dist the borrowed folder lists.
    check([python, "-m", "pip", "install", "--no-deps", "--no-compile", "--ignore-installed", "--no-index",
           "--no-warn-conflicts", "--disable-pip-version-check", wheel], env=env, cwd=tmp)  # fmt: skip
    return {"root": venv, "python": python, "site": site}


def test_wheel_contains_package_data(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        missing = [n for n in PACKAGED if n not in names]
        assert not missing, f"missing from {wheel.name}: {missing}"
        for p in SAMPLES.glob("*.txt"):
            assert z.read(f"articleqa/data/sample_articles/{p.name}") == p.read_bytes(), p.name
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert re.search(r"^articleqa\s*=\s*articleqa\.cli:main$", entry_points, re.M), entry_points


# ---- a scripted OpenAI-compatible server -----------------------------------------------------
PASSAGE = re.compile(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', re.S)


def scripted_reply(messages: list[dict]) -> str:
    """What a capable model would answer: the fact, cited with the passage that states it."""
    user = next((m["content"] for m in messages if m.get("role") == "user"), "")
    for n, text in PASSAGE.findall(user if isinstance(user, str) else json.dumps(user)):
        if FACT in text:
            return f"Japan expressed sympathy for the damage caused by {FACT} in Vietnam [{n}]."
    return "The articles don't say."


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, format, *args):  # keep the test's output clean
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]}
            )
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        self.server.requests.append(
            {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
        )
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        content = scripted_reply(body.get("messages") or [])
        ident, created = f"chatcmpl-{len(self.server.requests)}", int(time.time())
        if not body.get("stream"):
            return self._json(200, {
                "id": ident, "object": "chat.completion", "created": created, "model": body.get("model", MODEL),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            })  # fmt: skip
        # Streaming, should a caller ask for it: server-sent events, one delta per word.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        base = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model", MODEL),
        }
        words = re.findall(r"\S+\s*", content)
        for i, w in enumerate(words):
            delta = {"role": "assistant", "content": w} if i == 0 else {"content": w}
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[dict] = []


@pytest.fixture
def chat_server():
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- the installed command, outside the repository ---------------------------------------------
PROBE = """
import json, sys
import articleqa
from articleqa import resources
from articleqa.index.embeddings import TOKENIZER_PATH
from articleqa.evaluation.runner import _sample_corpus
from articleqa.ui.evaluate import DATASETS
print(json.dumps({
    "file": articleqa.__file__,
    "sys_path": sys.path,
    "answer_system": str(resources.data("prompts", "answer_system.txt")),
    "sample_articles": str(resources.sample_articles()),
    "tokenizer": str(TOKENIZER_PATH),
    "eval_corpus": str(_sample_corpus()),
    "ui_datasets": [str(p) for p in DATASETS.values()],
}))
"""


def test_installed_wheel_answers_with_packaged_prompts(venv, chat_server, tmp_path):
    work = tmp_path / "work"  # the working directory: outside the repository, nothing in it
    work.mkdir()
    assert not work.resolve().is_relative_to(ROOT), work
    env = clean_env(tmp_path)
    site, python = venv["site"].resolve(), venv["python"]

    # The package (and every file it finds) comes from the venv, never from a source tree.
    probe = json.loads(check([python, "-c", PROBE], env=env, cwd=work).stdout)
    for key in ("file", "answer_system", "sample_articles", "tokenizer", "eval_corpus", "ui_datasets"):
        for p in probe[key] if isinstance(probe[key], list) else [probe[key]]:
            path = Path(p).resolve()
            assert path.exists() and path.is_relative_to(site), (
                f"{key}: {p} missing or not inside {site}\n{probe}"
            )
    shadows = [p for p in probe["sys_path"] if (Path(p) / "articleqa" / "__init__.py").exists()]
    assert [Path(p).resolve() for p in shadows] == [site], f"articleqa found in: {shadows}"
    prompt_file = Path(probe["answer_system"])
    assert not prompt_file.resolve().is_relative_to(ROOT)

    # The console script is the venv's (a long path gets a /bin/sh trampoline instead of #!python).
    script = venv["root"] / "bin" / "articleqa"
    assert script.is_file(), f"no console script at {script}"
    head = "\n".join(script.read_text().splitlines()[:3])
    assert head.startswith("#!") and str(python) in head, head

    data = tmp_path / "data"
    check([script, "ingest", SAMPLES, "--data-dir", data, "-q"], env=env, cwd=work)

    url = f"http://127.0.0.1:{chat_server.server_address[1]}/v1"
    p = check([script, "ask", QUESTION, "--data-dir", data, "--json", "--answerer", "openai",
               "--llm-base-url", url, "--llm-model", MODEL], env={**env, "OPENAI_API_KEY": "x"}, cwd=work)  # fmt: skip
    try:
        out = json.loads(p.stdout)
    except ValueError:
        pytest.fail(f"`ask --json` did not print JSON\n{explain(p)}")
    why = f"{json.dumps(out, indent=1)[:3000]}\nrequests: {json.dumps(chat_server.requests)[:3000]}\n{p.stderr[-3000:]}"

    # The model was asked once, with the prompts found inside the installed package.
    chats = [r for r in chat_server.requests if r["path"].rstrip("/") == "/v1/chat/completions"]
    assert len(chats) == 1, f"expected one chat completion request (evidence gate closed?)\n{why}"
    body = chats[0]["body"]
    assert body["model"] == MODEL and chats[0]["authorization"] == "Bearer x", why
    system = [m for m in body["messages"] if m["role"] == "system"]
    assert len(system) == 1 and body["messages"][0] is system[0], why
    assert system[0]["content"] == prompt_file.read_text(encoding="utf-8").strip(), why
    user = body["messages"][-1]
    assert user["role"] == "user" and QUESTION in user["content"] and FACT in user["content"], why

    # ... and its answer came back validated, citing the exact passage.
    assert out["backend"] == "openai" and out["abstained"] is False, why
    assert "Yagi" in out["answer"] and "[1]" in out["answer"], why
    cited = [c for c in out["citations"] if c["n"] == 1]
    assert len(cited) == 1, why
    c = cited[0]
    assert c["article_id"] == VOV_ID and "Yagi" in c["text"], why
    article = (SAMPLES / f"{c['article_id']}.txt").read_text(encoding="utf-8")
    assert article[c["start"] : c["end"]] == c["text"], why
