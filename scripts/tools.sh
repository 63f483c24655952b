# shellcheck shell=bash disable=SC2034
# The command-line tools dockvault's tests, demo and benchmarks call on the host, installed when
# missing. Sourced by scripts/stack.sh (which defines log, die, have, apt_install, fail_with_log, TOOLS,
# LOGS); a fresh machine has none of them, so nothing here may rely on a manual install.
#
#   ensure_test_tools    age, age-keygen, zstd, GNU tar, psql/pg_restore, a compose v2 tool
#   ensure_bench_tools   restic 0.18.1 (the benchmark anchor) and the aws CLI, on top of the above
#
# Each check names the tool it could not get, before any test runs.

COMPOSE_VERSION="v2.40.3"
RESTIC_VERSION="v0.18.1"

# apt package that provides a command, for the ones Debian names differently.
apt_package_for() {
  case "$1" in
  age | age-keygen) echo age ;;
  psql | pg_restore | pg_dump) echo postgresql-client ;;
  tar) echo tar ;;
  mkfifo) echo coreutils ;;
  *) echo "$1" ;;
  esac
}

# Installs the Debian package of each missing command; dies naming the command if it stays missing.
require_commands() {
  local missing=() packages=() cmd
  for cmd in "$@"; do have "$cmd" || missing+=("$cmd"); done
  [ "${#missing[@]}" -eq 0 ] && return
  for cmd in "${missing[@]}"; do packages+=("$(apt_package_for "$cmd")"); done
  # shellcheck disable=SC2046
  apt_install $(printf '%s\n' "${packages[@]}" | sort -u)
  for cmd in "${missing[@]}"; do have "$cmd" || die "$cmd is still missing after installing $(apt_package_for "$cmd")"; done
}

ensure_gnu_tar() {
  tar --version 2>/dev/null | grep -q 'GNU tar' && return
  apt_install tar
  tar --version 2>/dev/null | grep -q 'GNU tar' || die "tar is not GNU tar (the tests compare with GNU tar's --sparse --xattrs output)"
}

# A compose v2 tool: the `docker compose` plugin where the Docker CLI has it, else a standalone
# docker-compose v2 on PATH, else one built from the Go module (Debian has only the old v1).
# DOCKVAULT_COMPOSE holds the command line to call it with.
ensure_compose() {
  if docker compose version 2>/dev/null | grep -q 'v2\.'; then
    DOCKVAULT_COMPOSE="docker compose"
    return
  fi
  local bin
  for bin in "$TOOLS/bin/docker-compose" "$(command -v docker-compose 2>/dev/null || true)"; do
    if [ -n "$bin" ] && [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q 'v2\.'; then
      DOCKVAULT_COMPOSE="$bin"
      return
    fi
  done
  have go || die "docker compose v2 is missing and there is no Go toolchain to build it"
  log "building docker-compose $COMPOSE_VERSION from its Go module (about 5 minutes cold)"
  build_compose >"$LOGS/compose-build.log" 2>&1 || fail_with_log "docker-compose build" "$LOGS/compose-build.log"
  DOCKVAULT_COMPOSE="$TOOLS/bin/docker-compose"
}

# `go install` refuses compose's module (its go.mod has exclude directives): build it as the main module.
build_compose() {
  local src work
  src="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  work="$(mktemp -d)"
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  mkdir -p "$TOOLS/bin"
  (cd "$work" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    -o "$TOOLS/bin/docker-compose" ./cmd)
  rm -rf "$work"
}

ensure_test_tools() {
  # mkfifo: the tar tests archive a FIFO.
  require_commands age age-keygen zstd psql pg_restore openssl mkfifo
  ensure_gnu_tar
  ensure_compose
}

ensure_restic() {
  if [ -x "$TOOLS/bin/restic" ] && "$TOOLS/bin/restic" version 2>/dev/null | grep -q "restic ${RESTIC_VERSION#v}"; then return; fi
  have go || die "restic $RESTIC_VERSION is missing and there is no Go toolchain to build it"
  log "building restic $RESTIC_VERSION with go install (about 2 minutes cold)"
  GOBIN="$TOOLS/bin" go install "github.com/restic/restic/cmd/restic@$RESTIC_VERSION" >"$LOGS/restic-build.log" 2>&1 ||
    fail_with_log "restic build" "$LOGS/restic-build.log"
}

ensure_aws_cli() {
  [ -x "$TOOLS/venv/bin/aws" ] && return
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv" >"$LOGS/aws-install.log" 2>&1 ||
    fail_with_log "python venv for the aws CLI" "$LOGS/aws-install.log"
  log "installing the aws CLI (PyPI awscli) into .tools/venv"
  "$TOOLS/venv/bin/pip" install -q awscli >>"$LOGS/aws-install.log" 2>&1 || fail_with_log "awscli install" "$LOGS/aws-install.log"
}

ensure_bench_tools() {
  ensure_test_tools
  ensure_restic
  ensure_aws_cli
}
