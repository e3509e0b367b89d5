#!/usr/bin/env bash
# Rebuild data/kjv-nt/kjv-nt.txt.gz byte for byte from Debian's packages
# bible-kjv-text 4.38 (the King James text, in the Bible Retrieval System's
# compressed format) and bible-kjv 4.38 (its reader, `bible`).
#
# The text is the New Testament, Matthew 1:1 to Revelation 22:21, one verse
# per line, as `bible -f` prints it with its leading reference ("Mat1:1 ")
# removed; then gzip -9 -n (GNU gzip's own deflate, no name, no time stamp,
# so the same text always gives the same bytes).
#
# Usage (Debian or Ubuntu with the Debian archive in its sources; root or
# any user, apt-get download needs no privileges):
#   bash scripts/vendor-kjv-nt.sh            # writes data/kjv-nt/kjv-nt.txt.gz
#   bash scripts/vendor-kjv-nt.sh OUT.gz     # writes OUT.gz instead
set -euo pipefail

VERSION=4.38
TEXT_DEB_SHA256=d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a
TEXT_SHA256=5b3ab8d5fc7ce0f82cf21d3128c15e169df48257103f9d001bef5ced0bc62ffa
GZ_SHA256=859936ee73d08fe070f636a404bfa429634d4625f383629a51996441655ee686

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/kjv-nt/kjv-nt.txt.gz}"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

apt-get download "bible-kjv-text=$VERSION" "bible-kjv=$VERSION" >/dev/null
echo "$TEXT_DEB_SHA256  bible-kjv-text_${VERSION}_all.deb" | sha256sum -c --quiet -
dpkg-deb -x "bible-kjv-text_${VERSION}_all.deb" pkg
dpkg-deb -x bible-kjv_"${VERSION}"_*.deb pkg

pkg/usr/bin/bible -f -p "$work/pkg/usr/lib" 'mt1:1-rev22:21' </dev/null \
    | sed 's/^[^ ]* //' >kjv-nt.txt
test "$(wc -l <kjv-nt.txt)" -eq 7957 || { echo "expected the 7,957 verses of the New Testament" >&2; exit 1; }
echo "$TEXT_SHA256  kjv-nt.txt" | sha256sum -c --quiet -
gzip -9 -n -c kjv-nt.txt >kjv-nt.txt.gz
echo "$GZ_SHA256  kjv-nt.txt.gz" | sha256sum -c --quiet -
cp kjv-nt.txt.gz "$out"
echo "wrote $out: $(wc -c <kjv-nt.txt.gz) bytes, sha256 $GZ_SHA256 (text: $(wc -c <kjv-nt.txt) bytes, sha256 $TEXT_SHA256)"
