#!/usr/bin/env bash
# Side-by-side tape benchmark: vsa's virtual tape library against tgt's (Debian `tgt`) on
# this machine, in one run, driven by bench/vtl_initiator.c (libiscsi, one command at a time).
#
# tgt: one SSC drive (LUN 1) whose backing file is a cartridge made by tgtimg, CAPACITY_GIB
# in size (a tgt drive with a backing file is loaded; it needs no changer). vsa: library
# lib1 (changer LUN 0, drive LUN 1) with its cartridge store in a RAID 0 pool over two
# sparse files, cartridges of CAPACITY_GIB, one moved into the drive by `vsa vtl tape move`.
# Both keep their files in one directory on the same filesystem (BENCH_DIR).
# Loads, alternating vsa and tgt (which goes first alternates too) ROUNDS times, medians:
#   write    REWIND, SIZE_MIB of 256 KiB variable WRITE(6) blocks, WRITE FILEMARKS 1 (no IMMED)
#   read     REWIND, the same blocks back with variable READ(6), each checked
#   locate   LOCATES times LOCATE(10) to a random block (a fixed sequence) + READ(6) of it
#   space    the same blocks, positioned with SPACE(6) over blocks from the current position
#            (tgt has no LOCATE, so this row is the one both can run)
# Then the space saving of compression and deduplication on vsa: one tar stream of TAR_SRC,
# written twice as two files to a fresh cartridge with DCE set, against the pool space that
# took.
#
# Usage: [BENCH_DIR=/var/tmp] [VSA_BIN=path] [TAR_SRC="/usr/lib/x86_64-linux-gnu"] [VSA_WRITE_JOURNAL=256M]
#        [VSA_VTL_DEDUP=off (the library's deduplication off for the whole run)]
#        bench/vtl_vs_tgt.sh [SIZE_MIB=2048] [ROUNDS=3] [LOCATES=2000] [CAPACITY_GIB=8]
# Needs root (tgtd), tgt, libiscsi-dev, gcc, jq, tar; builds vsa --release unless VSA_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-2048}
ROUNDS=${2:-3}
LOCATES=${3:-2000}
CAPACITY_GIB=${4:-8}
TAR_SRC=${TAR_SRC:-/usr/lib/x86_64-linux-gnu}
BS=262144
BLOCKS=$((SIZE_MIB * 4))

for tool in tgtd tgtadm tgtimg gcc jq tar ss; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y tgt libiscsi-dev gcc jq tar iproute2" >&2
        exit 1
    }
done
[[ -f /usr/include/iscsi/iscsi.h ]] || {
    echo "missing libiscsi's headers: apt-get install -y libiscsi-dev" >&2
    exit 1
}
[[ $(id -u) == 0 ]] || { echo "tgtd needs root: run this as root" >&2; exit 1; }
((CAPACITY_GIB * 1024 > SIZE_MIB)) || { echo "SIZE_MIB must fit on a cartridge" >&2; exit 1; }

if [[ -n ${VSA_BIN:-} ]]; then
    VSA=$VSA_BIN # a vsa built elsewhere (e.g. from another commit, to compare)
    VSA_WHAT=$VSA_BIN
else
    VSA_WHAT="release build of $(git describe --always --dirty 2>/dev/null || echo '?')"
    cargo build --release --locked -q -p vsa-appliance
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    VSA="$target_dir/release/vsa"
fi

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vsa-vtl-bench.XXXXXX")
TGT_IQN=iqn.2026-01.invalid.bench:tgt-vtl
VSA_IQN=iqn.2026-12.io.vsa:vtl.lib1
TGT_PID=
VSA_PID=
TGT_CTL=
cleanup() {
    set +e # clean up everything, whatever fails
    [[ -n $VSA_PID ]] && kill "$VSA_PID" 2>/dev/null && wait "$VSA_PID" 2>/dev/null
    if [[ -n $TGT_PID ]]; then
        # tgtd ignores SIGTERM while it has targets: remove the target, then stop it for sure.
        tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op delete --force --tid 1 \
            >/dev/null 2>&1 || true
        tgtadm -C "$TGT_CTL" --lld iscsi --mode system --op delete >/dev/null 2>&1 || true
        kill "$TGT_PID" 2>/dev/null && sleep 1
        kill -9 "$TGT_PID" 2>/dev/null
        wait "$TGT_PID" 2>/dev/null
        rm -f "/var/run/tgtd/socket.$TGT_CTL" "/var/run/tgtd/socket.$TGT_CTL.lock"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        [[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return; }
    done
}
# tgtd's control "port" names its unix socket, /var/run/tgtd/socket.N (N < 32768).
free_ctl() {
    local c
    while :; do
        c=$((1000 + RANDOM % 31000))
        [[ ! -e /var/run/tgtd/socket.$c && ! -e /var/run/tgtd/socket.$c.lock ]] && {
            echo "$c"
            return
        }
    done
}

uptime_before=$(uptime)
gcc -O2 -Wall -o "$WORK/vtl_initiator" bench/vtl_initiator.c -liscsi
INIT=$WORK/vtl_initiator
echo "preparing in $WORK: ${CAPACITY_GIB} GiB cartridges, $SIZE_MIB MiB per stream" >&2

# tgt: one drive, its cartridge a tgtimg file of the same capacity.
mkdir "$WORK/tgt"
tgtimg --op new --device-type tape --type data --barcode TGT000L8 \
    --size "$((CAPACITY_GIB * 1024))" --file "$WORK/tgt/TGT000L8" >/dev/null
TGT_PORT=$(free_port)
TGT_CTL=$(free_ctl)
tgtd -f --iscsi "portal=127.0.0.1:$TGT_PORT" -C "$TGT_CTL" >"$WORK/tgtd.log" 2>&1 &
TGT_PID=$!
for _ in $(seq 50); do
    tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op show >/dev/null 2>&1 && break
    sleep 0.1
done
tgt() { tgtadm -C "$TGT_CTL" --lld iscsi "$@"; }
tgt --mode target --op new --tid 1 -T "$TGT_IQN"
tgt --mode logicalunit --op new --tid 1 --lun 1 --device-type tape --bstype ssc \
    -b "$WORK/tgt/TGT000L8"
tgt --mode target --op bind --tid 1 -I ALL
TGT_URL="iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1"

# vsa: a RAID 0 pool over two sparse files of the cartridge capacity each, one library.
cat >"$WORK/vsa.toml" <<EOF
[settings]
write_journal = "${VSA_WRITE_JOURNAL:-256M}"

[[pool]]
name = "bench"
raid = "0"
members = ["$WORK/m0.img", "$WORK/m1.img"]
create_size = "${CAPACITY_GIB}G"
EOF
"$VSA" serve --data-dir "$WORK/vsa" --config "$WORK/vsa.toml" --api 127.0.0.1:0 \
    --iscsi "127.0.0.1:$(free_port)" >"$WORK/vsa.out" 2>"$WORK/vsa.log" &
VSA_PID=$!
for _ in $(seq 100); do [[ -s $WORK/vsa/iscsi.addr ]] && break; sleep 0.1; done
[[ -s $WORK/vsa/iscsi.addr ]] || { echo "vsa serve did not start:" >&2; cat "$WORK/vsa.log" >&2; exit 1; }
vsa() { "$VSA" --data-dir "$WORK/vsa" "$@"; }
vsa vtl create lib1 --slots 4 --drives 1 --pool bench >/dev/null
[[ ${VSA_VTL_DEDUP:-on} == off ]] && vsa vtl set lib1 --dedup off >/dev/null
vsa vtl tape create lib1 VSA000L8..VSA001L8 --capacity "${CAPACITY_GIB}G" >/dev/null
vsa vtl tape move lib1 slot:1 drive:1 >/dev/null
VSA_URL="iscsi://$(cat "$WORK/vsa/iscsi.addr")/$VSA_IQN/1"
allocated() { vsa volume list --json | jq '.[] | select(.name == "vtl.lib1") | .allocated'; }

# The value of an initiator run's RESULT line; "n/a" when the device has no LOCATE.
measure() {
    local out rc=0
    out=$("$INIT" "$@" 2>"$WORK/init.err") || rc=$?
    if ((rc == 3)); then echo n/a; return; fi
    if ((rc != 0)); then
        echo "vtl_initiator $* failed:" >&2
        cat "$WORK/init.err" >&2
        exit 1
    fi
    sed -n 's/^RESULT \([0-9.]*\) .*/\1/p' <<<"$out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A R
for round in $(seq "$ROUNDS"); do
    order="vsa tgt"
    ((round % 2 == 0)) && order="tgt vsa"
    echo "round $round/$ROUNDS ($order)" >&2
    for who in $order; do
        [[ $who == vsa ]] && u=$VSA_URL || u=$TGT_URL
        R[$who.w]+="$(measure write "$u" "$BS" "$BLOCKS") "
        [[ $who == vsa ]] && VSA_ALLOCATED=$(allocated)
        R[$who.r]+="$(measure read "$u" "$BS" "$BLOCKS") "
        R[$who.l]+="$(measure locate "$u" "$BLOCKS" "$LOCATES" "$BS") "
        R[$who.s]+="$(measure --by-space locate "$u" "$BLOCKS" "$LOCATES" "$BS") "
    done
done
TGT_FILE=$(du -B1 "$WORK/tgt/TGT000L8" | cut -f1)

row() { # label key unit
    local v t
    v=$(tr ' ' '\n' <<<"${R[vsa.$2]}" | grep . | median)
    t=$(tr ' ' '\n' <<<"${R[tgt.$2]}" | grep . | median)
    if [[ $t == n/a ]]; then
        printf "| %-36s | %10.0f %-5s | %16s | %6s |\n" "$1" "$v" "$3" "not supported" "-"
    else
        awk -v l="$1" -v v="$v" -v t="$t" -v u="$3" 'BEGIN {
            printf "| %-36s | %10.0f %-5s | %10.0f %-5s | %5.2fx |\n", l, v, u, t, u, (t > 0 ? v / t : 0) }'
    fi
}

# Space: one tar stream, twice, as two files on the second cartridge, compression on.
echo "space: tar of $TAR_SRC" >&2
tar_rc=0
# shellcheck disable=SC2086 # TAR_SRC is a list of paths
tar --sort=name -b 512 -cf "$WORK/corpus.tar" $TAR_SRC 2>"$WORK/tar.err" || tar_rc=$?
((tar_rc <= 1)) || { cat "$WORK/tar.err" >&2; exit 1; } # 1: a file changed while read
vsa vtl tape move lib1 drive:1 slot:1 >/dev/null
vsa vtl tape move lib1 slot:2 drive:1 >/dev/null
space_before=$(allocated)
out=$("$INIT" --compress writefiles "$VSA_URL" "$BS" "$WORK/corpus.tar" "$WORK/corpus.tar" \
    2>"$WORK/init.err") || { cat "$WORK/init.err" >&2; exit 1; }
written=$(sed -n 's/^BYTES //p' <<<"$out")
space_rate=$(sed -n 's/^RESULT \([0-9.]*\) .*/\1/p' <<<"$out")
space_used=$(($(allocated) - space_before))
tape_json=$(vsa vtl tape show lib1 VSA001L8 --json)
uptime_after=$(uptime)

echo
echo "Tape, vsa vs tgt, 256 KiB variable blocks, $SIZE_MIB MiB per stream, ${CAPACITY_GIB} GiB cartridges,"
echo "$LOCATES positionings per locate run, median of $ROUNDS rounds (one command at a time)"
echo "vsa: $VSA_WHAT; tgt: $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'); files in ${BENCH_DIR:-/var/tmp}"
echo
echo "| load                                 |        vsa       |        tgt       |  ratio |"
echo "| ------------------------------------ | ---------------- | ---------------- | ------ |"
row "write + filemark (durable)" w MB/s
row "read" r MB/s
row "LOCATE(10) + READ of 1 block" l ops/s
row "SPACE(6) blocks + READ of 1 block" s ops/s
echo
awk -v a="$VSA_ALLOCATED" -v w="$((BLOCKS * BS))" -v t="$TGT_FILE" 'BEGIN {
    printf "after writing %.0f MiB: vsa pool space of vtl.lib1 %.0f MiB (%.3fx of the data), tgt file %.0f MiB\n",
        w / 1048576, a / 1048576, a / w, t / 1048576 }'
echo
awk -v u="$space_used" -v w="$written" -v r="$space_rate" -v src="$TAR_SRC" 'BEGIN {
    printf "space: two identical tar streams of %s, %.0f MiB written with DCE set (%.0f MB/s)\n",
        src, w / 1048576, r
    printf "  pool space used: %.0f MiB, saving %.1f%% (compression and deduplication)\n",
        u / 1048576, 100 * (1 - u / w) }'
jq -r '"  cartridge \(.barcode): \(.objects) objects, \(.filemarks) filemarks, " +
    "\(.logical_bytes) bytes written, \(.stored_bytes) after compression " +
    "(LZ4, \(.logical_bytes / .stored_bytes * 100 | round / 100):1), " +
    "\(.dedup_saved) of them already stored (deduplication)"' <<<"$tape_json"
echo
echo "load before: $uptime_before"
echo "load after:  $uptime_after"
