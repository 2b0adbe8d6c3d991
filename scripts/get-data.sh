#!/usr/bin/env bash
# Fill <repo>/data/ with the real data sets used by the tests, examples and benchmarks,
# and verify each file's SHA-256.
#
# Where each file comes from, first match wins:
#   1. $SYNTHMPI_DATA_DIR, when set (a folder with the same layout): symlinked;
#   2. <repo>/../shared/data, when present: symlinked;
#   3. its public origin: UCI for Adult, Debian packages for the DNA and VCF files, the
#      authors' repository for the 1000 Genomes 805-SNP haplotypes (best effort).
# Files already present with the right checksum are left alone, so it is safe to rerun.
#
# usage: scripts/get-data.sh [--only SET[,SET...]] [--check] [--dest DIR]
#   SET is one of: adult, genomes, dna, vcf (default: all)
#   --check   verify the files already in place, fetch nothing
# exit codes: 0 all files present and verified, 1 a file is missing or wrong, 2 bad usage
set -euo pipefail

prog=get-data.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$repo/data"

uci=https://archive.ics.uci.edu/ml/machine-learning-databases/adult
# Yelmen et al., "Creating artificial human genomes using generative neural networks"
# (PLoS Genetics 2021): the authors' public code and data, pinned to one commit.
yelmen_commit=29c1ef7cf242e842df4360abae2eebeec995f40e
yelmen_repo=https://gitlab.inria.fr/ml_genetics/public/artificial_genomes
yelmen=${SYNTHMPI_YELMEN_URL:-$yelmen_repo/-/raw/$yelmen_commit/1000G_real_genomes}

# path under data/ | sha256 | set | origin (url:URL or deb:PACKAGE:FILE NAME IN PACKAGE)
manifest="
tabular/adult/adult.data|5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d|adult|url:$uci/adult.data
tabular/adult/adult.test|a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05|adult|url:$uci/adult.test
tabular/adult/adult.names|c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a|adult|url:$uci/adult.names
genomes/yelmen805/805_SNP_1000G_real.hapt|ab533d2d6fccf938f8c7ddc440624dd7cd840ed32761a3fd1919ee647b2a0b92|genomes|url:$yelmen/805_SNP_1000G_real.hapt
genomes/yelmen805/805_SNP.legend|7742730ff31480e4a2232ca5e219bbf1ec874b18e7562408768e10ec96e5e956|genomes|url:$yelmen/805_SNP.legend
dna/lambda_virus.fa|0a04f81952deb68c204e8ae67e0573cb97d348f18ab1b527630d57c294028cf5|dna|deb:bowtie2-examples:lambda_virus.fa
dna/chr17.hg19.part.fa|3627f99f5cd6fa6a9e1a4e0494e64a9443871e0167fc6767b23cde73ca4030c1|dna|deb:python-pyfaidx-examples:chr17.hg19.part.fa
dna/genes.fasta|387cca2dd7c9ef3b57f512565f50d76101ab83646ca6352a5bec2fcfdb50016e|dna|deb:python-pyfaidx-examples:genes.fasta
vcf/VariantAnnotation_chr22.vcf.gz|5f64f819420f4bc1d99896b9a16f4c7ce57312030d6f1ae4e53bc9366ab3e749|vcf|deb:r-bioc-variantannotation:chr22.vcf.gz
vcf/VariantAnnotation_chr22.vcf.gz.tbi|442f0577b64d70fe917d10bd45bb4be87a5ff0f2cf920ed81f58f1ffcb7f6503|vcf|deb:r-bioc-variantannotation:chr22.vcf.gz.tbi
vcf/pyvcf_1kg.vcf.gz|12beb676eefae91f6dd24af41c4150ab942d4ff485b7b154e6492e1f4f0158fe|vcf|deb:python-pyvcf-examples:1kg.vcf.gz
"

say() { echo "$prog: $*"; }
warn() { echo "$prog: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# sha256 of a file (following symlinks), or "" when it cannot be read
sha_of() {
  sha256sum "$1" 2>/dev/null | cut -d' ' -f1 || true
}

# the local folder to link from, or "" when files must be downloaded
local_source() {
  if [ -n "${SYNTHMPI_DATA_DIR:-}" ]; then
    if [ ! -d "$SYNTHMPI_DATA_DIR" ]; then
      warn "SYNTHMPI_DATA_DIR=$SYNTHMPI_DATA_DIR is not a directory"
      exit 2
    fi
    (cd "$SYNTHMPI_DATA_DIR" && pwd)
  elif [ -d "$repo/../shared/data" ]; then
    (cd "$repo/../shared/data" && pwd)
  fi
}

# fetch URL into FILE with curl or wget; returns non-zero on any failure
download() {
  local url=$1 file=$2
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --connect-timeout 20 -o "$file" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=3 --timeout=20 -O "$file" "$url"
  else
    warn "neither curl nor wget is installed"
    return 1
  fi
}

# unpack Debian package PKG into $work/deb/PKG once (apt-get download needs no root)
unpack_deb() {
  local pkg=$1 dir="$work/deb/$1"
  [ -d "$dir/root" ] && return 0
  mkdir -p "$dir"
  if ! (cd "$dir" && apt-get download "$pkg" >/dev/null 2>"$dir/apt.log"); then
    warn "apt-get download $pkg failed:"
    sed 's/^/    /' "$dir/apt.log" >&2
    warn "(on Debian/Ubuntu run 'apt-get update' first; elsewhere set SYNTHMPI_DATA_DIR)"
    return 1
  fi
  dpkg-deb -x "$dir"/*.deb "$dir/root.tmp" && mv "$dir/root.tmp" "$dir/root"
}

# copy NAME from package PKG into FILE, picking the copy whose checksum is SHA
# (Debian may ship it gzip-compressed as NAME.gz under /usr/share/doc)
from_deb() {
  local pkg=$1 name=$2 sha=$3 file=$4 cand
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    warn "$name comes from the Debian package $pkg: apt-get and dpkg-deb are needed"
    return 1
  fi
  unpack_deb "$pkg" || return 1
  while IFS= read -r cand; do
    case ${cand##*/} in
      "$name") cp "$cand" "$file" || return 1 ;;
      *) gzip -dc "$cand" >"$file" || return 1 ;;
    esac
    [ "$(sha_of "$file")" = "$sha" ] && return 0
  done < <(find "$work/deb/$pkg/root" -type f \( -name "$name" -o -name "$name.gz" \))
  warn "no file named $name in $pkg matches the expected checksum"
  return 1
}

# fetch one file from its public origin into TARGET, verified before it is moved in place
fetch() {
  local rel=$1 sha=$2 origin=$3 target=$4 part="$4.part" kind rest
  kind=${origin%%:*}
  rest=${origin#*:}
  rm -f "$part"
  case $kind in
    url)
      say "downloading $rel from $rest"
      if ! download "$rest" "$part"; then
        rm -f "$part"
        warn "download of $rel failed ($rest)"
        return 1
      fi
      ;;
    deb)
      say "extracting $rel from the Debian package ${rest%%:*}"
      from_deb "${rest%%:*}" "${rest#*:}" "$sha" "$part" || {
        rm -f "$part"
        return 1
      }
      ;;
  esac
  if [ "$(sha_of "$part")" != "$sha" ]; then
    warn "checksum mismatch for downloaded $rel: expected $sha, got $(sha_of "$part")"
    rm -f "$part"
    return 1
  fi
  mv -f "$part" "$target" || return 1
  say "fetched  $rel"
}

# make data/REL present and verified; returns non-zero when that is impossible
provide() {
  local rel=$1 sha=$2 origin=$3 src=$4 target="$dest/$1"
  if [ -e "$target" ] && [ "$(sha_of "$target")" = "$sha" ]; then
    say "ok       $rel"
    return 0
  fi
  if [ -e "$target" ] || [ -L "$target" ]; then
    warn "replacing $target: its checksum is not the expected $sha"
    rm -f "$target" || return 1
  fi
  mkdir -p "$(dirname "$target")" || return 1

  # a local copy is linked, never copied, and must itself be right
  if [ -n "$src" ] && [ -e "$src/$rel" ]; then
    if [ "$(sha_of "$src/$rel")" != "$sha" ]; then
      warn "checksum mismatch for $src/$rel: expected $sha, got $(sha_of "$src/$rel")"
      return 1
    fi
    ln -s "$src/$rel" "$target" || return 1
    say "linked   $rel -> $src/$rel"
    return 0
  fi
  if [ -n "${SYNTHMPI_DATA_DIR:-}" ]; then
    warn "$rel is not in SYNTHMPI_DATA_DIR=$SYNTHMPI_DATA_DIR"
    return 1
  fi
  fetch "$rel" "$sha" "$origin" "$target"
}

# report whether data/REL is present with the right checksum
verify() {
  local rel=$1 sha=$2 target="$dest/$1" got
  if [ ! -e "$target" ]; then
    warn "missing  $rel"
    return 1
  fi
  got=$(sha_of "$target")
  if [ "$got" != "$sha" ]; then
    warn "MISMATCH $rel: expected $sha, got ${got:-unreadable}"
    return 1
  fi
  say "ok       $rel"
}

# --- arguments ------------------------------------------------------------------------
only="adult,genomes,dna,vcf"
check=0
while [ $# -gt 0 ]; do
  case $1 in
    --only)
      [ $# -ge 2 ] || { warn "--only needs a value"; exit 2; }
      only=$2
      shift 2
      ;;
    --only=*) only=${1#--only=}; shift ;;
    --check) check=1; shift ;;
    --dest)
      [ $# -ge 2 ] || { warn "--dest needs a value"; exit 2; }
      dest=$2
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) warn "unknown argument '$1' (try --help)"; exit 2 ;;
  esac
done
IFS=, read -r -a sets <<<"$only"
for s in "${sets[@]}"; do
  case $s in
    adult | genomes | dna | vcf) ;;
    *) warn "unknown data set '$s' (known: adult, genomes, dna, vcf)"; exit 2 ;;
  esac
done
wanted() { [[ ",$only," == *",$1,"* ]]; }

# --- the work -------------------------------------------------------------------------
failed=()
if [ "$check" -eq 1 ]; then
  while IFS='|' read -r rel sha set _origin; do
    if [ -z "$rel" ] || ! wanted "$set"; then continue; fi
    verify "$rel" "$sha" || failed+=("$rel")
  done <<<"$manifest"
else
  src=$(local_source)
  work=$(mktemp -d "${TMPDIR:-/tmp}/synthmpi-data.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$dest"
  while IFS='|' read -r rel sha set origin; do
    if [ -z "$rel" ] || ! wanted "$set"; then continue; fi
    if ! provide "$rel" "$sha" "$origin" "$src"; then
      failed+=("$rel")
      if [ "$set" = genomes ] && [ -z "${SYNTHMPI_DATA_DIR:-}" ]; then
        warn "the 805-SNP files come from the authors' repository ($yelmen);" \
          "this download is best effort: if it moved, fetch 805_SNP_1000G_real.hapt and" \
          "805_SNP.legend by hand into $dest/genomes/yelmen805/ (or set" \
          "SYNTHMPI_YELMEN_URL to a folder holding them) and run this script again"
      fi
    fi
  done <<<"$manifest"
fi

if [ ${#failed[@]} -gt 0 ]; then
  warn "FAILED: ${#failed[@]} file(s) missing or wrong: ${failed[*]}"
  exit 1
fi
say "all requested data sets present and verified in $dest"
