"""Hosting a class: the Python entry point, a plain (non-editable) install, the devcontainer,
Binder (repo2docker) and The Littlest JupyterHub files. Images cannot be built here: each file
is parsed, and the commands it names are run here the same way (the entry point's with
--dry-run, since its real run would reinstall this checkout's environment)."""
import importlib.util
import json
import os
import runpy
import shlex
import subprocess
import sys
import textwrap
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_workbook():
    spec = importlib.util.spec_from_file_location("workbook_entry", ROOT / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry(*arguments: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, str(ROOT / "workbook.py"), *arguments], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)


def fake_installed_venv(folder: Path) -> Path:
    """This venv seen from another folder (its packages, its python), with a stamp that matches:
    the entry point will not reinstall, and nothing is written into this venv."""
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    (folder / "lib").symlink_to(Path(sys.prefix) / "lib")
    (folder / "pyvenv.cfg").write_bytes((Path(sys.prefix) / "pyvenv.cfg").read_bytes())
    (folder / ".installed").write_text(load_workbook().install_fingerprint() + "\n", encoding="utf-8")
    return folder


# --- workbook.py ------------------------------------------------------------------------------------

def test_entry_point_without_a_venv_creates_it_installs_then_starts_jupyterlab(tmp_path):
    done = entry("--venv", str(tmp_path / "venv"), "--dry-run", "lab", "--port", "8899")
    assert done.returncode == 0, done.stderr
    lines = [line.removeprefix("$ ") for line in done.stdout.splitlines()]
    venv_python = str(tmp_path / "venv" / "bin" / "python")
    assert lines[0] == f"{sys.executable} -m venv {tmp_path / 'venv'}"
    assert lines[2] == f"{venv_python} -m pip install -q -c constraints.txt -e '.[test]'"
    assert lines[3].startswith("copy jupyter-config/overrides.d/event-driven-workbook.json -> ")
    assert lines[3].endswith("venv/share/jupyter/lab/settings/overrides.d/event-driven-workbook.json")
    assert lines[4].startswith(f"{venv_python} -m ipykernel install --sys-prefix --name python3")
    assert lines[5] == f"{venv_python} -m labs doctor"
    lab = shlex.split(lines[6])
    assert lab[:3] == [venv_python, "-m", "jupyterlab"] and "--port=8899" in lab and "--ServerApp.port_retries=0" in lab
    token = next(a for a in lab if a.startswith("--IdentityProvider.token=")).split("=", 1)[1]
    assert len(token) == 48 and token != entry("--venv", str(tmp_path / "venv"), "--dry-run", "lab").stdout
    assert ("--allow-root" in lab) == (os.geteuid() == 0)
    assert not (tmp_path / "venv").exists()  # a dry run creates nothing


def test_entry_point_reuses_an_installed_venv_and_names_each_test_step(tmp_path):
    venv = fake_installed_venv(tmp_path / "venv")
    done = entry("--venv", str(venv), "--dry-run", "test")
    lines = [line.removeprefix("$ ") for line in done.stdout.splitlines()]
    python = str(venv / "bin" / "python")
    assert lines[0] == f"{python} -m pytest -q --numprocesses auto --maxprocesses 4 tests"
    assert lines[1] == f"{python} -m labs.workbook generate --check"
    assert lines[3].startswith("LABS_CHECK_REPORT=") and lines[3].endswith("--nbval-cell-timeout 300 solutions")
    assert lines[4].endswith("--nbval-lax notebooks") and "verify-checks" in lines[5] and len(lines) == 6
    assert "pip install" not in done.stdout  # the stamp matched: nothing is reinstalled
    (venv / ".installed").write_text("stale\n", encoding="utf-8")
    assert "pip install" in entry("--venv", str(venv), "--dry-run", "test", "unit").stdout


def test_entry_point_really_runs_a_step(tmp_path):
    done = entry("--venv", str(fake_installed_venv(tmp_path / "venv")), "test", "check-sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-m labs.workbook generate --check" in done.stdout and "stale: 0" in done.stdout


def test_entry_point_arguments_and_an_old_python(monkeypatch, capsys):
    done = entry("test", "everything")
    assert done.returncode == 2 and "unknown test step everything" in done.stderr
    assert entry("serve").returncode == 2
    workbook = load_workbook()
    monkeypatch.setattr(workbook, "MINIMUM_PYTHON", (99, 0))
    with pytest.raises(SystemExit, match="Python 99.0 or newer is required"):
        workbook.main(["--dry-run", "install"])


def test_the_makefile_delegates_to_the_entry_point():
    # --no-print-directory: under `make test` this is a sub-make, which would announce its directory
    make = subprocess.run(["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "test"], cwd=ROOT,
                          capture_output=True, text=True).stdout
    assert make.splitlines() == ["python3 workbook.py --venv .venv install", "python3 workbook.py --venv .venv test"]


# --- a plain pip install -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain_install(tmp_path_factory):
    """``pip install .`` (not editable) into a new venv that sees this venv's packages through a
    .pth line, so only the workbook itself is built and installed (no download of its dependencies)."""
    venv = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "shared-packages.pth").write_text("\n".join(here) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([python, "-m", "pip", "install", "-q", str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stderr.lower() or "Location" in done.stderr, done.stderr  # no setuptools box
    return venv, python, env


def test_a_plain_install_carries_its_data_and_runs_outside_the_checkout(plain_install, tmp_path):
    venv, python, env = plain_install
    home = tmp_path / "jupyter-alice"
    home.mkdir()
    probe = textwrap.dedent("""
        import json, labs
        from importlib import resources
        from labs.sandbox import template
        schema = resources.files("labs.course") / "schemas" / "OrderEvent" / "v1.json"
        print(json.dumps({"labs": labs.__file__, "schema": json.loads(schema.read_text())["title"],
                          "template": str(template.TEMPLATE), "resources": len(template.load()["Resources"])}))
    """)
    seen = json.loads(subprocess.run([python, "-c", probe], cwd=home, env=env, capture_output=True, text=True,
                                     check=True).stdout)
    assert seen["labs"].startswith(str(venv)) and seen["schema"]
    assert seen["template"].startswith(str(venv)) and seen["resources"] > 0  # the SAM template came along
    override = json.loads((venv / "share/jupyter/lab/settings/overrides.d/event-driven-workbook.json").read_text())
    assert override == {"@jupyterlab/translation-extension:plugin": {"locale": "ja_JP"}}

    copied = subprocess.run([python, "-m", "labs.workbook", "copy-notebooks", str(home / "notebooks")], cwd=home,
                            env=env, capture_output=True, text=True, check=True)
    assert f"コピーしました {len(list((ROOT / 'notebooks').glob('*.ipynb')))} 冊" in copied.stdout
    run = textwrap.dedent("""
        import nbformat, sys
        from nbclient import NotebookClient
        nb = nbformat.read("notebooks/00_introduction.ipynb", as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("import labs; print('LABS=' + labs.__file__)"))
        NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": "notebooks"}}).execute()
        print("".join(str(o) for c in nb.cells for o in c.get("outputs", [])).count("未実装"))
        print(nb.cells[-1].outputs[0]["text"].strip())
    """)
    executed = subprocess.run([python, "-c", run], cwd=home, env=env, capture_output=True, text=True, timeout=600)
    assert executed.returncode == 0, executed.stderr[-2000:]
    not_yet, kernel_labs = executed.stdout.split()[-2:]
    assert int(not_yet) >= 1  # the learner copy ran to its check: ⏳ 未実装
    assert kernel_labs.removeprefix("LABS=").startswith(str(venv))  # the kernel imports the installed copy


def test_jupyterlab_of_a_plain_install_defaults_to_japanese(plain_install, tmp_path):
    venv, python, env = plain_install
    port, token = 18000 + os.getpid() % 1000, "test-token"
    # JupyterLab's own assets live in this venv (the new one only sees its packages); the settings
    # directory is the new venv's, where a real install's JupyterLab looks (sys.prefix/share/jupyter/lab).
    command = [python, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
               f"--LabApp.app_dir={Path(sys.prefix) / 'share/jupyter/lab'}",
               f"--LabApp.app_settings_dir={venv / 'share/jupyter/lab/settings'}"]
    env = {**env, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings")}
    server = subprocess.Popen(command + (["--allow-root"] if os.geteuid() == 0 else []), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/translation-extension:plugin"
        settings = None
        for _ in range(200):
            try:
                request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    settings = json.load(response)
                break
            except OSError:
                if server.poll() is not None:
                    break
                __import__("time").sleep(0.3)
        assert settings, "JupyterLab did not answer"
        assert settings["schema"]["properties"]["locale"]["default"] == "ja_JP"
        languages = urllib.request.Request(f"http://127.0.0.1:{port}/lab/api/translations/",
                                           headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(languages, timeout=10) as response:
            assert "ja_JP" in json.load(response)["data"]
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- devcontainer, Binder, TLJH ----------------------------------------------------------------------

def test_devcontainer_runs_the_entry_points_commands(tmp_path):
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8"))
    assert config["image"].startswith("mcr.microsoft.com/devcontainers/python:") and "3.11" in config["image"]
    workbook = load_workbook()
    default_port = workbook.parse(["lab"]).port
    assert config["forwardPorts"] == [default_port]
    for key, command in (("postCreateCommand", "install"), ("postAttachCommand", "lab")):
        words = shlex.split(config[key])
        assert words == ["python", "workbook.py", command]
        done = entry("--venv", str(tmp_path / "venv"), "--dry-run", *words[2:])  # the same command, printed
        assert done.returncode == 0 and "-m pip install -q -c constraints.txt -e '.[test]'" in done.stdout
    assert "-m jupyterlab --no-browser --ip=127.0.0.1 --port=8888" in done.stdout


def test_binder_installs_the_project_with_the_same_pins():
    lines = [line for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-c ../constraints.txt", "."]
    assert (ROOT / "binder" / lines[0].split()[1]).resolve() == ROOT / "constraints.txt"
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert runtime == "python-" + requires.removeprefix(">=")
    # repo2docker runs `pip install -r binder/requirements.txt` from the repository root: resolve it here.
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q", "--report", "-",
                           "-r", "binder/requirements.txt"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    planned = {item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(done.stdout)["install"]}
    assert planned.get("event-driven-workbook") == "0.1.0"
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    lower = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    assert all(lower.get(name.lower().replace("_", "-"), version) == version for name, version in planned.items())


def test_binder_post_build_is_the_doctor_and_passes_here():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(post_build)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "準備完了です。" in done.stdout


def test_tljh_server_config_gives_each_learner_the_notebooks_once(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    config = ROOT / "hosting" / "tljh" / "jupyter_server_config.py"
    runpy.run_path(str(config))
    notebooks = sorted(p.name for p in (tmp_path / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    (tmp_path / "notebooks" / notebooks[0]).write_text("my work", encoding="utf-8")
    runpy.run_path(str(config))  # the next start keeps the learner's work
    assert (tmp_path / "notebooks" / notebooks[0]).read_text(encoding="utf-8") == "my work"
