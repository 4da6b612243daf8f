#!/bin/sh
# Installs what the tests need beyond PyPI: Debian's xmlsec1 (the independent SAML IdP, pysaml2, signs with it).
# As root (CI) it installs what is missing with apt-get; otherwise it says what to install and fails.
set -eu
missing=""
command -v xmlsec1 >/dev/null 2>&1 || missing="$missing xmlsec1"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "The tests need these Debian packages:$missing" >&2
    echo "Install them with: sudo apt-get install$missing" >&2
    exit 1
fi
