"""`run_agent.sh` as a user runs it: no agent CLI installed (exit 3), a fake agent CLI on PATH (started from the
repository root with the assembled prompt), --dry-run, usage errors (exit 2), NOVOSKY_AGENT, nesting depth (exit 4),
the model from the scope lock's tier."""
import json, os, shutil, stat, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

SCRIPT = ROOT / "run_agent.sh"
RULES_HEAD = "# NOVOSKY project rules (every role)"


def _exe(path: Path, text: str) -> Path:
    path.write_text(text); path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def bin_dir(tmp_path):
    "A PATH holding only what run_agent.sh needs (bash, python3, git): no agent CLI, wherever the test runs."
    b = tmp_path / "bin"; b.mkdir()
    os.symlink(shutil.which("bash"), b / "bash")
    if shutil.which("git"): os.symlink(shutil.which("git"), b / "git")
    _exe(b / "python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    return b


def fake_agent(bin_dir, name, rc=0):
    "A fake agent CLI that records its working directory, arguments (NUL-separated) and stdin, then exits `rc`."
    rec = bin_dir.parent / f"{name}.record"
    _exe(bin_dir / name, f'#!/bin/sh\npwd > "{rec}.cwd"\nprintf "%s\\0" "$@" > "{rec}.args"\ncat > "{rec}.stdin"\n'
                         f'printf "%s" "$NOVOSKY_AGENT_DEPTH $NOVOSKY_AGENT_ROLE $NOVOSKY_AGENT_PROMPT_FILE" > "{rec}.env"\nexit {rc}\n')
    return rec


def run(bin_dir, *args, task="run backtest and report score", script=SCRIPT, cwd=None, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("NOVOSKY_", "TASK"))}
    e |= {"PATH": str(bin_dir), "TASK": task} | env
    return subprocess.run([str(script), *args], cwd=cwd or bin_dir.parent, env=e, capture_output=True, text=True, timeout=60)


def recorded(rec):
    return (Path(f"{rec}.cwd").read_text().strip(), Path(f"{rec}.args").read_text().split("\0")[:-1],
            Path(f"{rec}.stdin").read_text(), Path(f"{rec}.env").read_text().split(" "))


def saved_prompt(stderr):
    "The prompt file run_agent.sh names; removed from the repository's runs/ after the test reads it."
    p = Path(stderr.split("saved in ")[-1].split()[0])
    assert p.is_file() and p.parent == ROOT / "runs/agents/prompts", p
    return p


def test_no_agent_cli_installed_exit_3(bin_dir):
    r = run(bin_dir)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "no coding-agent CLI to start" in r.stderr
    assert "looked for: NOVOSKY_AGENT (not set), then claude codex aider gemini on PATH" in r.stderr
    assert "set NOVOSKY_AGENT" in r.stderr
    p = saved_prompt(r.stderr)
    assert "run backtest and report score" in p.read_text(); p.unlink()


def test_fake_claude_started_from_the_repo_root_with_the_prompt(bin_dir, tmp_path):
    rec = fake_agent(bin_dir, "claude", rc=7)
    r = run(bin_dir, "--role", "feature_engineer", cwd=tmp_path)           # started from elsewhere
    assert r.returncode == 7, r.stderr                                     # the agent's exit status is passed on
    cwd, args, stdin, env = recorded(rec)
    assert Path(cwd).resolve() == ROOT.resolve()
    assert args[:3] == ["-p", "--permission-mode", "acceptEdits"] and len(args) == 4
    prompt = args[-1]
    role = (ROOT / "agents/feature_engineer.md").read_text().strip()
    rules = (ROOT / "agents/RULES.md").read_text().strip()
    assert role in prompt and rules in prompt and "## Task\n\nrun backtest and report score\n" in prompt
    assert prompt.index("## Task") < prompt.index("# Role: Feature Engineer") < prompt.index(RULES_HEAD) < prompt.index("## Scope lock")
    assert stdin == ""                                                     # stdin is /dev/null: the agent never waits on it
    assert env[:2] == ["1", "feature_engineer"] and Path(env[2]).read_text().rstrip("\n") == prompt
    Path(env[2]).unlink()


def test_dry_run_prints_prompt_and_command_and_starts_nothing(bin_dir):
    rec = fake_agent(bin_dir, "claude")
    fake_agent(bin_dir, "gemini")
    r = run(bin_dir, "--dry-run", "--role", "model_optimizer", NOVOSKY_AGENT_ARGS="--allowedTools Bash")
    assert r.returncode == 0, r.stderr
    assert not Path(f"{rec}.args").exists()
    assert "# Role: Model Optimizer" in r.stdout and RULES_HEAD in r.stdout and "run backtest and report score" in r.stdout
    line = [l for l in r.stdout.splitlines() if l.startswith("claude ")]        # claude comes before gemini
    assert line and line[0].startswith("claude -p --permission-mode acceptEdits --allowedTools Bash \"$(<"), line
    p = Path(line[0].split("$(<")[1].split(")")[0]); assert p.is_file(); p.unlink()


@pytest.mark.parametrize("task", ["", "   \n"])
def test_empty_task_is_a_usage_error(bin_dir, task):
    fake_agent(bin_dir, "claude")
    r = run(bin_dir, task=task)
    assert r.returncode == 2 and "TASK is empty" in r.stderr, r.stderr


def test_unknown_role_lists_the_roles(bin_dir):
    fake_agent(bin_dir, "claude")
    r = run(bin_dir, "--role", "quant")
    assert r.returncode == 2, r.stderr
    assert "unknown role 'quant'; the roles are: feature_engineer, model_optimizer, novosky_optimizer, project_manager" in r.stderr


def test_usage_errors_and_help(bin_dir):
    before = set((ROOT / "runs/agents/prompts").glob("*.md"))
    assert run(bin_dir, "--frobnicate").returncode == 2
    assert run(bin_dir, "--role").returncode == 2
    r = run(bin_dir, "--agent", "copilot")
    assert r.returncode == 2 and "known are claude codex aider gemini" in r.stderr
    assert set((ROOT / "runs/agents/prompts").glob("*.md")) == before     # usage errors come before the prompt is made
    r = run(bin_dir, "--agent", "codex")                                   # known, not installed
    assert r.returncode == 3 and "--agent codex: 'codex' is not on PATH" in r.stderr
    saved_prompt(r.stderr).unlink()
    h = run(bin_dir, "--help", task="")
    assert h.returncode == 0 and "exit status" in h.stdout and "novosky_optimizer" in h.stdout and "NOVOSKY_AGENT" in h.stdout


def _copy(tmp_path):
    "A copy of the launcher and the roles in a folder of its own (so that a scope lock there touches nothing real)."
    d = tmp_path / "repo"; d.mkdir()
    shutil.copy(SCRIPT, d / "run_agent.sh"); shutil.copytree(ROOT / "agents", d / "agents")
    return d, {"PYTHONPATH": str(ROOT)}


def test_known_clis_and_novosky_agent(bin_dir, tmp_path):
    d, env = _copy(tmp_path)
    for name, head in [("codex", ["exec", "--sandbox", "workspace-write"]), ("aider", ["--yes-always", "--no-auto-commits", "--message"]),
                       ("gemini", ["--approval-mode", "auto_edit", "-p"])]:
        rec = fake_agent(bin_dir, name)
        r = run(bin_dir, "--agent", name, "--model", "m1", script=d / "run_agent.sh", **env)
        assert r.returncode == 0, r.stderr
        cwd, args, _, _ = recorded(rec)
        assert Path(cwd).resolve() == d.resolve()
        test_args = [a for a in args if a not in ("--model", "m1")]
        assert test_args[:-1] == head and "run backtest and report score" in test_args[-1] and args.count("m1") == 1, args
    # NOVOSKY_AGENT comes before the CLIs on PATH; {prompt_file} is the saved prompt
    rec = fake_agent(bin_dir, "my-agent")
    r = run(bin_dir, script=d / "run_agent.sh", NOVOSKY_AGENT="my-agent --file {prompt_file} --quiet", **env)
    assert r.returncode == 0, r.stderr
    _, args, _, _ = recorded(rec)
    assert args[0] == "--file" and args[2] == "--quiet" and len(args) == 3
    assert f"{RULES_HEAD}" in Path(args[1]).read_text() and Path(args[1]).parent == d / "runs/agents/prompts"
    r = run(bin_dir, script=d / "run_agent.sh", NOVOSKY_AGENT="my-agent --fast", **env)     # no placeholder: the prompt goes last
    _, args, _, _ = recorded(rec)
    assert args[0] == "--fast" and "## Task" in args[1] and len(args) == 2
    r = run(bin_dir, script=d / "run_agent.sh", NOVOSKY_AGENT="not-installed --x", **env)
    assert r.returncode == 3 and "NOVOSKY_AGENT='not-installed --x': 'not-installed' is not found" in r.stderr
    assert "looked for: NOVOSKY_AGENT (set to 'not-installed --x'), then claude codex aider gemini on PATH" in r.stderr


def test_model_from_the_scope_lock_tier_and_depth_limit(bin_dir, tmp_path):
    d, env = _copy(tmp_path)
    rec = fake_agent(bin_dir, "claude")
    e = dict(os.environ, **env, TASK="add a feature")
    r = subprocess.run([sys.executable, "-m", "novosky.agents", "--root", str(d), "lock", "write", "--complexity", "high",
                        "--tier", "large", "--allow", "ml_config.json"], env=e, capture_output=True, text=True, cwd=d)
    assert r.returncode == 0 and "tier large" in r.stdout, r.stderr
    r = run(bin_dir, task="add a feature", script=d / "run_agent.sh", NOVOSKY_MODEL_LARGE="big-model", **env)
    assert r.returncode == 0, r.stderr
    _, args, _, _ = recorded(rec)
    assert args[3:5] == ["--model", "big-model"]
    assert "written for this task" in args[-1] and "- ml_config.json" in args[-1] and "model tier large" in args[-1]
    r = run(bin_dir, script=d / "run_agent.sh", NOVOSKY_AGENT_DEPTH="2", **env)
    assert r.returncode == 4 and "NOVOSKY_AGENT_MAX_DEPTH is 2" in r.stderr
    r = run(bin_dir, "--dry-run", script=d / "run_agent.sh", NOVOSKY_AGENT_DEPTH="1", **env)   # a manager's worker: allowed
    assert r.returncode == 0, r.stderr
