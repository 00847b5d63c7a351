#!/usr/bin/env bash
# The namespace's FUSE mount against direct access and mergerfs (Debian `mergerfs`) over the
# same local directory, in one run, and the time for a client of the mount to fail over.
#
# One directory on BENCH_DIR's filesystem is reached three ways: directly; through
# `vsa ns mount` (a namespace whose link has the directory as its file:// target); through
# a mergerfs mount of it (one branch, minfreespace=0). Loads, alternating the three ROUNDS
# times (medians reported):
#   seq-write  dd 1 MiB blocks, SIZE MiB, conv=fsync (a new file each time)
#   seq-read   dd 1 MiB blocks of that file (page cache warm on every side: what is
#              measured is the path to the data, not the disk)
#   stat       `stat` of FILES small files in 100 directories (find | xargs stat), after
#              the kernel's 1 s attribute and entry caches of the mounts have expired
# Failover: a link with two file:// targets; the first one's directory is renamed away and
# the time until `cat` through the mount returns the second's file is measured.
# Link resolution at 100,000 links: `cargo bench -p vsa-namespace` (README).
#
# Usage: [BENCH_DIR=/var/tmp] [VSA_BIN=path] bench/ns_fuse.sh [SIZE_MIB=512] [FILES=10000] [ROUNDS=3]
# Needs root, /dev/fuse, fuse3 and mergerfs; builds vsa --release unless VSA_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-512}
FILES=${2:-10000}
ROUNDS=${3:-3}

for tool in mergerfs fusermount3; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y mergerfs fuse3" >&2
        exit 1
    }
done
if [[ -n ${VSA_BIN:-} ]]; then
    VSA=$VSA_BIN
else
    cargo build --release -q -p vsa-appliance
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    VSA="$target_dir/release/vsa"
fi

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vsa-ns-bench.XXXXXX")
cleanup() {
    fusermount3 -u "$WORK/mergerfs" 2>/dev/null || true
    [[ -n ${VSA_PID:-} ]] && kill "$VSA_PID" 2>/dev/null && wait "$VSA_PID" 2>/dev/null
    fusermount3 -u "$WORK/vsa-mnt" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

DIR=$WORK/dir
mkdir -p "$DIR" "$WORK/vsa-mnt" "$WORK/mergerfs" "$WORK/a" "$WORK/b"
echo "preparing $FILES small files in $DIR" >&2
for d in $(seq 0 99); do
    mkdir -p "$DIR/tree/d$d"
    for f in $(seq 0 $((FILES / 100 - 1))); do echo "$d $f" >"$DIR/tree/d$d/f$f"; done
done
echo a >"$WORK/a/who"
echo b >"$WORK/b/who"

"$VSA" serve --data-dir "$WORK/vsa" --api 127.0.0.1:0 --iscsi 127.0.0.1:0 \
    >"$WORK/vsa.out" 2>"$WORK/vsa.log" &
VSA_PID=$!
for _ in $(seq 300); do [[ -s $WORK/vsa/api.addr ]] && break; sleep 0.1; done
vsa() { "$VSA" --data-dir "$WORK/vsa" "$@" >/dev/null; }
vsa ns create bench
vsa ns link add bench data "file://$DIR"
vsa ns link add bench two "file://$WORK/a" "file://$WORK/b" --stable
vsa ns mount bench "$WORK/vsa-mnt"
mergerfs -o minfreespace=0,fsname=bench "$DIR" "$WORK/mergerfs"

path_of() { # who -> the directory it reaches $DIR through
    case $1 in
    direct) echo "$DIR" ;;
    vsa) echo "$WORK/vsa-mnt/data" ;;
    mergerfs) echo "$WORK/mergerfs" ;;
    esac
}
# dd's "copied, S s, R MB/s" line: MB/s as dd prints it, turned into MB/s from bytes/secs.
ddrate() { sed -n 's/.* copied, \([0-9.]*\) s, .*/\1/p' | awk -v b="$((SIZE_MIB << 20))" '{ printf "%d\n", b / $1 / 1e6 }'; }
seq_write() { dd if=/dev/zero of="$1/big.$2" bs=1M count="$SIZE_MIB" conv=fsync 2>&1 | ddrate; }
seq_read() { dd if="$1/big.$2" of=/dev/null bs=1M 2>&1 | ddrate; }
stats() { # files stat'ed per second
    local start end
    sleep 1.2 # the mounts' attribute and entry caches (1 s) expire
    start=$(date +%s.%N)
    (cd "$1/tree" && find . -type f -print0 | xargs -0 stat -c %s >/dev/null)
    end=$(date +%s.%N)
    awk -v n="$FILES" -v s="$start" -v e="$end" 'BEGIN { printf "%d\n", n / (e - s) }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A R
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    for who in direct vsa mergerfs; do
        p=$(path_of "$who")
        R[$who.w]+="$(seq_write "$p" "$who$round") "
        seq_read "$p" "$who$round" >/dev/null # the first read fills the page cache
        R[$who.r]+="$(seq_read "$p" "$who$round") "
        R[$who.s]+="$(stats "$p") "
        rm -f "$DIR/big.$who$round"
    done
done

# Failover: the first target's directory goes away; how long until the mount serves the
# second's file.
[[ $(cat "$WORK/vsa-mnt/two/who") == a ]] || { echo "the mount does not serve the first target" >&2; exit 1; }
start=$(date +%s.%N)
mv "$WORK/a" "$WORK/a.gone"
until [[ $(cat "$WORK/vsa-mnt/two/who" 2>/dev/null) == b ]]; do sleep 0.001; done
end=$(date +%s.%N)
failover_ms=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", (e - s) * 1000 }')

m() { echo "${R[$1]}" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '\n%-22s %12s %12s %12s %12s %12s\n' load direct "vsa mount" mergerfs "vsa/direct" "vsa/mergerfs"
for k in w r s; do
    case $k in w) name="seq write 1M (MB/s)" ;; r) name="seq read 1M (MB/s)" ;; s) name="stat (files/s)" ;; esac
    d=$(m direct.$k) v=$(m vsa.$k) g=$(m mergerfs.$k)
    printf '%-22s %12s %12s %12s %12s %12s\n' "$name" "$d" "$v" "$g" "$(ratio "$v" "$d")" "$(ratio "$v" "$g")"
done
echo
echo "failover through the mount (first target's directory removed): $failover_ms ms"
# How the mount's opens were served: by the kernel from the target's file (passthrough), or
# by the daemon (cached, direct).
"$VSA" --data-dir "$WORK/vsa" ns mounts | sed -n 's/.* \([0-9]*\)\/\([0-9]*\)\/\([0-9]*\)$/opens through the mount: \1 by the kernel (passthrough), \2 cached, \3 direct/p'
echo "(${SIZE_MIB} MiB files, $FILES files for stat, $ROUNDS rounds, medians; $(nproc) cores; $(date -u +%F))"
