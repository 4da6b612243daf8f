#!/bin/sh
# Installs what the tests need beyond PyPI: Debian's xmlsec1 (the independent SAML IdP, pysaml2, signs with it)
# and chromium (the browser tests drive it through Playwright), and npm's oidc-provider (the independent OpenID
# Provider the OIDC tests run on loopback), and redis-server (the rate-limit tests count in it). As root (CI) it installs missing Debian packages with apt-get;
# otherwise it says what to install and fails.
set -eu
missing=""
command -v xmlsec1 >/dev/null 2>&1 || missing="$missing xmlsec1"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "Installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "The tests need these Debian packages:$missing" >&2
        echo "Install them with: sudo apt-get install$missing" >&2
        exit 1
    fi
fi
provider=tests/oidc/provider
if [ ! -d "$provider/node_modules/oidc-provider" ] || [ "$provider/package-lock.json" -nt "$provider/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null 2>&1 || { echo "The OIDC tests need Node.js 20 and npm (apt-get install nodejs npm)" >&2; exit 1; }
    echo "Installing the OIDC test provider (npm ci)"
    (cd "$provider" && npm ci --no-audit --no-fund --loglevel=error)
fi
