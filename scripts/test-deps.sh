#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, when it is missing.
# Without an argument (`make test`): the tools the test suite checks reports
# with: headless Chromium (the HTML report), qpdf and pdftotext (the PDF),
# xmllint (JUnit against its schema). With "qemu" (`make test-arm`):
# qemu-user-static, whose qemu-aarch64-static and qemu-arm-static run the
# linux/arm64 and linux/arm builds. A no-op where they are present.
set -euo pipefail

need=()
case "${1:-}" in
"")
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v qpdf >/dev/null 2>&1 || need+=(qpdf)
  command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
  command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
  ;;
qemu)
  { command -v qemu-aarch64-static && command -v qemu-arm-static; } >/dev/null 2>&1 || need+=(qemu-user-static)
  ;;
*)
  echo "usage: $0 [qemu]" >&2
  exit 2
  ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "test-deps: missing ${need[*]} and not root: install them (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
