#!/usr/bin/env bash
# Build the virtual environments of the third-party baselines used by benchmarks/run.py.
#
#   benchmarks/.venv-sdv         SDV (GaussianCopula, CTGAN). SDV is BUSL-1.1: optional, never a core dependency.
#   benchmarks/.venv-smartnoise  smartnoise-synth (MST, AIM, DP-CTGAN). It pins opacus < 0.15 (and needs the
#                                undeclared `packaging`), so it cannot share the core environment.
#   benchmarks/.venv-pgm         mbi 2.0 (private-pgm, Apache-2.0, McKenna et al.; JAX, no torch) for MST and AIM
#                                run directly (benchmarks/baselines/pgm_mechanisms.py), not through smartnoise.
#
# All paths are git-ignored (benchmarks/.venv-*/). torch==2.13.0 (the local CPU wheel) is installed FIRST in
# each venv that needs torch: an unpinned torch resolves to a ~5.5 GB CUDA build. The pgm venv needs no torch
# (mbi runs on JAX's CPU wheel), so it gets none (NO_TORCH=1 for that build). Each install gets at most INSTALL_TIMEOUT
# seconds; the outcome (ok / the pip error line) is written to benchmarks/results/peer_envs.json, which
# run.py reads to report "unavailable: <reason>" for a baseline whose environment could not be built.
#
#   bash benchmarks/peer_envs.sh            # all three
#   bash benchmarks/peer_envs.sh sdv pgm    # some
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3.11}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
INSTALL_TIMEOUT="${INSTALL_TIMEOUT:-600}"
STATUS="$HERE/results/peer_envs.json"
mkdir -p "$HERE/results"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sdv smartnoise pgm)

record() {  # name status detail
  "$PYTHON" - "$STATUS" "$1" "$2" "$3" <<'EOF'
import datetime, json, pathlib, sys
path, name, status, detail = pathlib.Path(sys.argv[1]), *sys.argv[2:]
data = json.loads(path.read_text()) if path.exists() else {}
data[name] = {"status": status, "detail": detail[-600:], "date": datetime.date.today().isoformat()}
path.write_text(json.dumps(data, indent=2) + "\n")
EOF
}

build() {  # name packages...   (NO_TORCH=1 in the environment: skip the torch pin, check no torch came in)
  local name="$1"; shift
  local no_torch="${NO_TORCH:-0}"
  local venv="$HERE/.venv-$name" log="$HERE/.venv-$name/install.log"
  echo "== $name: $venv"
  "$PYTHON" -m venv "$venv" || { record "$name" failed "python -m venv failed"; return 1; }
  : >"$log"
  if [ "$no_torch" = 1 ]; then
    timeout "$INSTALL_TIMEOUT" "$venv/bin/python" -m pip install -q "$@" >"$log" 2>&1
  else
    {
      timeout "$INSTALL_TIMEOUT" "$venv/bin/python" -m pip install -q "$TORCH_SPEC" &&
      timeout "$INSTALL_TIMEOUT" "$venv/bin/python" -m pip install -q "$TORCH_SPEC" "$@"
    } >"$log" 2>&1
  fi
  local rc=$?
  if [ $rc -ne 0 ]; then
    local why
    if [ $rc -eq 124 ]; then why="install timed out after ${INSTALL_TIMEOUT} s"; else
      why="$(grep -E '^ERROR|error:|Could not|conflict' "$log" | head -3 | tr '\n' ' ')"; fi
    echo "   FAILED: $why"
    record "$name" failed "$why"
    return 1
  fi
  local torch_now
  torch_now="$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>&1)"
  if [ "$no_torch" = 1 ]; then
    if [[ "$torch_now" != *ModuleNotFoundError* ]]; then
      record "$name" failed "a dependency pulled in torch $torch_now (this venv must have none)"
      return 1
    fi
  elif [[ "$torch_now" != 2.13.0* ]]; then
    echo "   torch changed to $torch_now"
    record "$name" failed "installing the package replaced torch 2.13.0 with $torch_now"
    return 1
  fi
  local versions
  versions="$("$venv/bin/python" -m pip freeze 2>/dev/null | grep -iE '^(sdv|ctgan|smartnoise|opacus|torch|numpy|pandas|mbi|jax)' | tr '\n' ' ')"
  echo "   ok: $versions"
  record "$name" ok "$versions"
}

for t in "${targets[@]}"; do
  case "$t" in
    sdv) build sdv "sdv>=1.10" ;;
    # `packaging` is imported by smartnoise-synth but not declared
    smartnoise) build smartnoise "smartnoise-synth" packaging ;;
    # mbi 2.0 ships the estimation engine (JAX) but not the mechanisms; MST and AIM are in baselines/pgm_mechanisms.py
    pgm) NO_TORCH=1 build pgm "mbi==2.0.0" pandas ;;
    *) echo "unknown target $t (sdv|smartnoise|pgm)"; exit 2 ;;
  esac
done
