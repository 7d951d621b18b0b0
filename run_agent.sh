#!/usr/bin/env bash
# run_agent.sh: start a coding-agent CLI on a NOVOSKY task, with a role prompt (agents/ROLE.md + agents/RULES.md + TASK).
set -euo pipefail

KNOWN_AGENTS=(claude codex aider gemini)      # looked for on PATH in this order, after NOVOSKY_AGENT

say() { local t; IFS= read -r -d '' t || true; printf '%s' "$t"; }   # a here-document to stdout, without cat
usage() {
  say <<'USAGE'
usage: TASK="what to do" ./run_agent.sh [--role ROLE] [--agent CLI] [--model NAME] [--dry-run]

Start a coding-agent CLI from the repository root with one prompt: the role file agents/ROLE.md, the
project rules agents/RULES.md, the task, the scope lock (runs/agents/scope.lock.json) and the checkout's
state. The prompt is also saved under runs/agents/prompts/.

options:
  --role ROLE    the agent's role (default: project_manager); one of the agents/*.md files:
USAGE
  local f
  for f in "$ROOT"/agents/*.md; do
    f=${f##*/}; f=${f%.md}
    [[ $f == *[[:upper:]]* ]] || printf '                   %s\n' "$f"
  done
  say <<'USAGE'
  --agent CLI    use this CLI: claude, codex, aider or gemini (default: NOVOSKY_AGENT, else the first
                 of those found on PATH)
  --model NAME   the model to ask the CLI for (default: NOVOSKY_AGENT_MODEL, else the model for the scope
                 lock's tier: NOVOSKY_MODEL_SMALL / _MEDIUM / _LARGE, else the CLI's own default)
  --dry-run      print the prompt and the command it would run; start nothing
  -h, --help     this help

how each CLI is started (non-interactive; PROMPT is the assembled prompt, EXTRA is NOVOSKY_AGENT_ARGS):
  claude -p --permission-mode acceptEdits [--model M] EXTRA PROMPT
  codex exec --sandbox workspace-write [--model M] EXTRA PROMPT
  aider --yes-always --no-auto-commits [--model M] EXTRA --message PROMPT
  gemini --approval-mode auto_edit [--model M] EXTRA -p PROMPT
  NOVOSKY_AGENT='cmd args'   any other command: {prompt_file} in it becomes the saved prompt's path,
                 {prompt} the prompt itself; with neither, the prompt is appended as the last argument.
                 Words are split on spaces (no quoting): wrap anything more complex in a script.
Shell commands usually need the CLI's permission; grant what the task needs with NOVOSKY_AGENT_ARGS,
e.g. NOVOSKY_AGENT_ARGS='--allowedTools Bash' for claude.

environment:
  TASK                      the task (required)
  NOVOSKY_AGENT             the agent command to use instead of looking on PATH
  NOVOSKY_AGENT_ARGS        extra arguments for a known CLI
  NOVOSKY_AGENT_MODEL       the model (overridden by --model)
  NOVOSKY_MODEL_SMALL, NOVOSKY_MODEL_MEDIUM, NOVOSKY_MODEL_LARGE   the model for each scope-lock tier
  NOVOSKY_AGENT_MAX_DEPTH   how deep agents may start agents (default 2: a manager and its workers)
  NOVOSKY_PYTHON            the Python that runs python -m novosky.agents (default: python3, else python)

exit status: 0 the agent finished (otherwise its own exit status is passed on); 1 the prompt could not be
assembled; 2 usage error (empty TASK, unknown role, option or CLI); 3 no agent CLI found (nothing started);
4 too deep (an agent started by agents NOVOSKY_AGENT_MAX_DEPTH levels down).
USAGE
}

src=${BASH_SOURCE[0]}
[[ $src == */* ]] || src=./$src
ROOT=$(cd "${src%/*}" && pwd)

role=project_manager agent="" model="" dry_run=0
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --role|--agent|--model)
      (($# >= 2)) || { echo "run_agent.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case $1 in --role) role=$2 ;; --agent) agent=$2 ;; --model) model=$2 ;; esac
      shift 2 ;;
    --role=*) role=${1#*=}; shift ;;
    --agent=*) agent=${1#*=}; shift ;;
    --model=*) model=${1#*=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "run_agent.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -n $agent ]]; then
  case " ${KNOWN_AGENTS[*]} " in
    *" $agent "*) ;;
    *) echo "run_agent.sh: unknown --agent '$agent': known are ${KNOWN_AGENTS[*]} (any other command: set NOVOSKY_AGENT)" >&2; exit 2 ;;
  esac
fi

TASK=${TASK:-}
if [[ -z ${TASK//[[:space:]]/} ]]; then
  echo "run_agent.sh: TASK is empty: say what to do, e.g. TASK=\"run backtest and report score\" ./run_agent.sh (see --help)" >&2
  exit 2
fi
export TASK

depth=${NOVOSKY_AGENT_DEPTH:-0} max_depth=${NOVOSKY_AGENT_MAX_DEPTH:-2}
[[ $depth =~ ^[0-9]+$ ]] || depth=0
[[ $max_depth =~ ^[0-9]+$ ]] || max_depth=2
if ((depth >= max_depth)); then
  echo "run_agent.sh: refused: this is agent depth $depth, and NOVOSKY_AGENT_MAX_DEPTH is $max_depth (agents starting agents without end); do the work yourself or report back" >&2
  exit 4
fi

if [[ -n ${NOVOSKY_PYTHON:-} ]]; then py=$NOVOSKY_PYTHON
elif command -v python3 >/dev/null 2>&1; then py=python3
elif command -v python >/dev/null 2>&1; then py=python
else echo "run_agent.sh: no python3 or python on PATH (set NOVOSKY_PYTHON): it assembles the prompt (python -m novosky.agents)" >&2; exit 1
fi

cd "$ROOT"
rc=0
prompt_file=$("$py" -m novosky.agents --root "$ROOT" prompt --role "$role" --save) || rc=$?
if ((rc)); then ((rc == 2)) && exit 2; echo "run_agent.sh: could not assemble the prompt (python -m novosky.agents exited $rc)" >&2; exit 1; fi
prompt_file=$ROOT/$prompt_file
prompt=$(<"$prompt_file")

# The model: --model, NOVOSKY_AGENT_MODEL, or the one set for the scope lock's tier.
if [[ -z $model ]]; then model=${NOVOSKY_AGENT_MODEL:-}; fi
tier=""
if [[ -z $model ]]; then
  tier=$("$py" -m novosky.agents --root "$ROOT" lock tier 2>/dev/null || true)
  case $tier in
    small) model=${NOVOSKY_MODEL_SMALL:-} ;;
    medium) model=${NOVOSKY_MODEL_MEDIUM:-} ;;
    large) model=${NOVOSKY_MODEL_LARGE:-} ;;
  esac
fi

# The agent: --agent, NOVOSKY_AGENT, or the first known CLI on PATH.
read -r -a extra <<<"${NOVOSKY_AGENT_ARGS:-}"
cmd=() name="" missing=""
if [[ -n $agent ]]; then
  name=$agent
  command -v "$name" >/dev/null 2>&1 || missing="--agent $name: '$name' is not on PATH"
elif [[ -n ${NOVOSKY_AGENT:-} ]]; then
  read -r -a words <<<"$NOVOSKY_AGENT"
  if ((${#words[@]} == 0)); then missing="NOVOSKY_AGENT is blank"
  elif ! command -v "${words[0]}" >/dev/null 2>&1; then missing="NOVOSKY_AGENT='$NOVOSKY_AGENT': '${words[0]}' is not found"
  else
    name=custom placed=0
    for w in "${words[@]}"; do
      [[ $w == *"{prompt_file}"* || $w == *"{prompt}"* ]] && placed=1
      w=${w//\{prompt_file\}/"$prompt_file"}
      cmd+=("${w//\{prompt\}/"$prompt"}")
    done
    ((placed)) || cmd+=("$prompt")
  fi
else
  for a in "${KNOWN_AGENTS[@]}"; do
    if command -v "$a" >/dev/null 2>&1; then name=$a; break; fi
  done
fi
if [[ -z $name || -n $missing ]]; then
  {
    echo "run_agent.sh: no coding-agent CLI to start${missing:+ ($missing)}."
    configured="not set"; [[ -z ${NOVOSKY_AGENT:-} ]] || configured="set to '$NOVOSKY_AGENT'"
    echo "  looked for: NOVOSKY_AGENT ($configured), then ${KNOWN_AGENTS[*]} on PATH."
    echo "  install one of them, or set NOVOSKY_AGENT to the command that runs your agent non-interactively, e.g."
    echo "    NOVOSKY_AGENT='my-agent --prompt-file {prompt_file}' ./run_agent.sh ...   (without {prompt_file} or {prompt}, the prompt is the last argument)"
    echo "  the prompt is saved in $prompt_file"
  } >&2
  if ((dry_run)); then printf '%s\n' "$prompt"; fi
  exit 3
fi
mflag=() note=""
if [[ -n $model ]]; then
  if [[ $name == custom ]]; then note="--model/NOVOSKY_*MODEL* not passed: NOVOSKY_AGENT's command sets its own model"; model=""
  else mflag=(--model "$model"); fi
fi
case $name in
  claude) cmd=(claude -p --permission-mode acceptEdits "${mflag[@]}" "${extra[@]}" "$prompt") ;;
  codex)  cmd=(codex exec --sandbox workspace-write "${mflag[@]}" "${extra[@]}" "$prompt") ;;
  aider)  cmd=(aider --yes-always --no-auto-commits "${mflag[@]}" "${extra[@]}" --message "$prompt") ;;
  gemini) cmd=(gemini --approval-mode auto_edit "${mflag[@]}" "${extra[@]}" -p "$prompt") ;;
esac

if ((dry_run)); then
  printf '=== prompt (%s) ===\n%s\n' "$prompt_file" "$prompt"
  printf '=== command (run from %s; stdin from /dev/null) ===\n' "$ROOT"
  shown=()
  for w in "${cmd[@]}"; do
    if [[ $w == "$prompt" ]]; then shown+=("\"\$(<$(printf '%q' "$prompt_file"))\""); else shown+=("$(printf '%q' "$w")"); fi
  done
  printf '%s\n' "${shown[*]}"
  [[ -z $note ]] || echo "note: $note"
  [[ -n $model || -z $tier ]] || echo "note: the scope lock prescribes tier '$tier'; set NOVOSKY_MODEL_${tier^^} to choose its model"
  exit 0
fi

export NOVOSKY_AGENT_DEPTH=$((depth + 1)) NOVOSKY_AGENT_ROLE=$role NOVOSKY_AGENT_PROMPT_FILE=$prompt_file
[[ -z $note ]] || echo "run_agent.sh: note: $note" >&2
echo "run_agent.sh: starting $name${model:+ (model $model)} as $role from $ROOT; prompt saved in $prompt_file" >&2
exec "${cmd[@]}" </dev/null
