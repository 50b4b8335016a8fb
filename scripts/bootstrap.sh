#!/usr/bin/env bash
# Install what the platform needs on a Debian/Ubuntu machine, then sync the uv workspace.
# Safe to re-run: it only installs what is missing. Prints the path of uv on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser FlowAuth's Playwright tests drive (flowauth/tests/test_browser.py).
# postgresql-server-dev-15, gcc, libc6-dev: to compile the SQL generator's native function
# (flowdb/src/flowdb/synthetic/native/), which `flowdb synthetic` builds on first use.
# ruby-asciidoctor-pdf: AutoFlow's PDF reports (notebook -> AsciiDoc -> PDF, as FlowKit's AutoFlow);
# poppler-utils: pdftoppm, which the tests use to render every page of a report.
# gdal-bin: ogr2ogr, which `flowdb load-geography --layer` uses to read GeoPackage/Shapefile and reproject.
APT_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-client-15 postgresql-server-dev-15 gcc libc6-dev
              redis-server chromium ruby-asciidoctor-pdf poppler-utils gdal-bin)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    if [[ $EUID -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
        echo "bootstrap: error: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1
    fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# uv verifies TLS with its own roots unless told otherwise; use the system's bundle (which carries any local CA).
if [[ -z "${SSL_CERT_FILE:-}" && -r /etc/ssl/certs/ca-certificates.crt ]]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi

UV=$(command -v uv || true)
if [[ -z "$UV" && -x .tools/bin/uv ]]; then UV=$PWD/.tools/bin/uv; fi
if [[ -z "$UV" ]]; then
    echo "bootstrap: installing uv from PyPI into .tools/" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target .tools/uv-pkg uv >&2
    mkdir -p .tools/bin
    ln -sf "$PWD/.tools/uv-pkg/bin/uv" .tools/bin/uv
    UV=$PWD/.tools/bin/uv
fi
"$UV" sync --locked --all-packages --quiet >&2

# ReDoc's bundle from the npm registry, which FlowAPI serves with its API page (FLOWAPI_REDOC_SCRIPT), so the
# page renders without internet. Optional: without npm, or if this fails, the page loads ReDoc from its CDN.
REDOC_VERSION=2.5.4
if [[ ! -s .tools/redoc/redoc.standalone.js ]] && command -v npm >/dev/null; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent "redoc@$REDOC_VERSION" >/dev/null 2>&1 \
        && tar xzf "redoc-$REDOC_VERSION.tgz" package/bundles/redoc.standalone.js); then
        mkdir -p .tools/redoc && mv "$tmp/package/bundles/redoc.standalone.js" .tools/redoc/
    else
        echo "bootstrap: could not fetch ReDoc $REDOC_VERSION from npm; FlowAPI's page will use ReDoc's CDN" >&2
    fi
    rm -rf "$tmp"
fi
echo "$UV"
