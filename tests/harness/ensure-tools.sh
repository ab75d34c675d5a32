#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Rust toolchain, only when
# it is missing, so a second run is fast and prints one "found" line per tool:
#   tansu          the Kafka-compatible broker (cargo install; memory and sqlite storage)
#   tests/.venv    Python venv with kafka-python, the producer/consumer of the tests
#   Debian         prometheus, prometheus-alertmanager, chromium, fonts-noto-cjk
#   tests/.node    playwright-core, which drives that chromium through a form (tests/harness/browser.js)
# Nothing here is optional: any failure exits non-zero, so that CI (CI=true)
# fails loudly instead of skipping tests. Installer output goes to a log that
# is printed only when the install fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Pinned: the harness relies on their command lines and client behaviour.
TANSU_VERSION=0.6.0
KAFKA_PYTHON_VERSION=2.3.3
PLAYWRIGHT_VERSION=1.65.2
# fonts-noto-cjk: the alert page is Chinese; without a CJK font Chromium draws boxes.
# libssl-dev, pkg-config: librdkafka is built with OpenSSL (SASL/SCRAM and TLS).
APT_PACKAGES=(prometheus prometheus-alertmanager chromium fonts-noto-cjk libssl-dev pkg-config)
VENV=tests/.venv

log=$(mktemp -t ensure-tools.XXXXXX)
trap 'rm -f "$log"' EXIT

# Runs "$@" quietly; on failure shows its output and stops the script.
quietly() {
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "ensure-tools: FAILED: $*" >&2
        exit 1
    fi
}

export PATH="$HOME/.cargo/bin:$PATH"
if command -v tansu >/dev/null; then
    echo "tansu: found $(command -v tansu)"
else
    echo "tansu: installing $TANSU_VERSION with cargo (takes minutes)"
    quietly cargo install tansu --version "$TANSU_VERSION" --features dynostore,libsql --locked
    echo "tansu: installed $(command -v tansu)"
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        echo "$pkg: found"
    else
        missing+=("$pkg")
    fi
done
# The venv module is a separate Debian package when python3 is Debian's.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    echo "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    quietly apt-get update
    quietly apt-get install -y "${missing[@]}"
    echo "apt: installed ${missing[*]}"
fi

if [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c "import kafka, sys; sys.exit(kafka.__version__ != '$KAFKA_PYTHON_VERSION')" 2>/dev/null; then
    echo "kafka-python: found $KAFKA_PYTHON_VERSION in $VENV"
else
    echo "kafka-python: installing $KAFKA_PYTHON_VERSION into $VENV"
    [ -x "$VENV/bin/python" ] || quietly python3 -m venv "$VENV"
    quietly "$VENV/bin/pip" install --disable-pip-version-check "kafka-python==$KAFKA_PYTHON_VERSION"
    echo "kafka-python: installed"
fi

# playwright-core only: it drives Debian's chromium (no browser download).
if [ -f tests/.node/node_modules/playwright-core/package.json ] &&
    [ "$(node -p "require('./tests/.node/node_modules/playwright-core/package.json').version" 2>/dev/null)" = "$PLAYWRIGHT_VERSION" ]; then
    echo "playwright-core: found $PLAYWRIGHT_VERSION in tests/.node"
else
    echo "playwright-core: installing $PLAYWRIGHT_VERSION into tests/.node"
    command -v npm >/dev/null || { echo "ensure-tools: FAILED: npm (Node.js) is not installed" >&2; exit 1; }
    mkdir -p tests/.node
    quietly npm install --prefix tests/.node --no-audit --no-fund --no-save "playwright-core@$PLAYWRIGHT_VERSION"
    echo "playwright-core: installed"
fi
