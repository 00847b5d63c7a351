#!/usr/bin/env bash
# Side-by-side iSCSI benchmark: vsa against tgt (Debian `tgt`) on this machine, in one run.
#
# Both serve the same kind of backing on the same filesystem: tgt one file of SIZE; vsa a
# thick volume of SIZE in a RAID 0 pool over two files of SIZE/2, and a thin volume of SIZE
# in a RAID 5 pool over four files of SIZE/3 (the default pool's shape, as a user gets it;
# small writes go through its write journal). vsa serves pool volumes, never bare files.
# Every LUN is filled with the same data first, so reads hit storage.
# Loads, each for SECS seconds, alternating vsa and tgt ROUNDS times (medians reported):
#   4k-randread   iscsi-perf -r, 4 KiB per request (in the LUN's block size), queue depth 32
#   128k-seqread  iscsi-perf, 128 KiB per request, queue depth 32
#   4k-randwrite  qemu-img bench -w -t none, 4 KiB random-ish writes, queue depth 32
#
# Usage: [BENCH_DIR=/var/tmp] [VSA_BIN=path] bench/iscsi_vs_tgt.sh [SIZE_MIB=1024] [SECS=10] [ROUNDS=3]
# (BENCH_DIR picks the filesystem both targets keep their files on; VSA_BIN runs that vsa
# binary instead of building one; VSA_WRITE_JOURNAL sizes the RAID 5 pool's write journal,
# 0 to run without it.)
# After each write load it waits for vsa's journals to be written home and for `sync`.
# Needs root (tgtd), tgt, libiscsi-bin, qemu-utils + qemu-block-extra, jq; builds vsa --release.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
SECS=${2:-10}
ROUNDS=${3:-3}

for tool in tgtd tgtadm iscsi-perf iscsi-readcapacity16 qemu-img jq; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y tgt libiscsi-bin qemu-utils qemu-block-extra jq" >&2
        exit 1
    }
done

if [[ -n ${VSA_BIN:-} ]]; then
    VSA=$VSA_BIN # a vsa built elsewhere (e.g. from another commit, to compare)
else
    cargo build --release -q -p vsa-appliance
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    VSA="$target_dir/release/vsa"
fi

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vsa-bench.XXXXXX")
TGT_PORT=$((20000 + RANDOM % 10000))
TGT_IQN=iqn.2026-01.invalid.bench:tgt
VSA_IQN=iqn.2026-01.invalid.bench:vsa
cleanup() {
    [[ -n ${VSA_PID:-} ]] && kill "$VSA_PID" 2>/dev/null && wait "$VSA_PID" 2>/dev/null
    tgtadm --lld iscsi --mode system --op delete --control-port "$TGT_PORT" >/dev/null 2>&1 ||
        true
    # tgtd ignores SIGTERM while it has targets: remove the target, then stop it for sure.
    tgtadm -C "$TGT_PORT" --lld iscsi --mode target --op delete --force --tid 1 \
        >/dev/null 2>&1 || true
    [[ -n ${TGT_PID:-} ]] && { kill "$TGT_PID" 2>/dev/null; sleep 1; kill -9 "$TGT_PID" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "preparing: $SIZE_MIB MiB LUNs in $WORK" >&2
# tgt: one file.
truncate -s "${SIZE_MIB}M" "$WORK/tgt.img"
tgtd -f --iscsi "portal=127.0.0.1:$TGT_PORT" -C "$TGT_PORT" >"$WORK/tgtd.log" 2>&1 &
TGT_PID=$!
sleep 1
tgtadm -C "$TGT_PORT" --lld iscsi --mode target --op new --tid 1 -T "$TGT_IQN"
tgtadm -C "$TGT_PORT" --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b "$WORK/tgt.img"
tgtadm -C "$TGT_PORT" --lld iscsi --mode target --op bind --tid 1 -I ALL
TGT_URL="iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1"

# vsa: a RAID 0 pool over two files of half the size, one thick volume; a RAID 5 pool
# over four files of a third of the size, one thin volume.
cat >"$WORK/vsa.toml" <<EOF
[settings]
write_journal = "${VSA_WRITE_JOURNAL:-256M}"

[[pool]]
name = "bench"
raid = "0"
members = ["$WORK/m0.img", "$WORK/m1.img"]
create_size = "$((SIZE_MIB / 2 + 16))M"

[[pool]]
name = "bench5"
raid = "5"
members = ["$WORK/r0.img", "$WORK/r1.img", "$WORK/r2.img", "$WORK/r3.img"]
create_size = "$((SIZE_MIB / 2 + 16))M"
EOF
# The RAID 5 pool holds half as much again as its thin LUN: filled, it stays clear of its
# low-space threshold (a pool past it raises THIN PROVISIONING SOFT THRESHOLD REACHED
# once, which qemu-img prints while it fills the LUN, then retries).
"$VSA" serve --data-dir "$WORK/vsa" --config "$WORK/vsa.toml" --api 127.0.0.1:0 \
    --iscsi 127.0.0.1:0 >"$WORK/vsa.out" 2>"$WORK/vsa.log" &
VSA_PID=$!
for _ in $(seq 100); do [[ -s $WORK/vsa/iscsi.addr ]] && break; sleep 0.1; done
vsa() { "$VSA" --data-dir "$WORK/vsa" "$@" >/dev/null; }
vsa volume create bench --size "${SIZE_MIB}M" --pool bench --thick
vsa target create "$VSA_IQN"
vsa target lun add "$VSA_IQN" bench --lun 1
vsa volume create bench5 --size "${SIZE_MIB}M" --pool bench5
vsa target lun add "$VSA_IQN" bench5 --lun 2
VSA_URL="iscsi://$(cat "$WORK/vsa/iscsi.addr")/$VSA_IQN/1"
VSA5_URL="iscsi://$(cat "$WORK/vsa/iscsi.addr")/$VSA_IQN/2"

# The same data on all.
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WORK/fill.raw"
for u in "$TGT_URL" "$VSA_URL" "$VSA5_URL"; do
    qemu-img convert -n -f raw -O raw "$WORK/fill.raw" "$u"
done
rm -f "$WORK/fill.raw"

# iscsi-perf counts in logical blocks: turn bytes into blocks of the LUN.
block_size() {
    iscsi-readcapacity16 "$1" | sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES://p'
}
# iscsi-perf prints "iops average N (M MB/s)" every second until SIGINT.
perf() { # url bytes-per-request random?
    local out blocks
    blocks=$(($2 / $(block_size "$1")))
    out=$(timeout -s INT "$SECS" iscsi-perf -m 32 -b "$blocks" $3 "$1" 2>&1 | tr '\r' '\n' |
        grep -o 'iops average [0-9]* ([0-9]* MB/s)' | tail -1) || true # timeout ends it
    echo "$out" | awk '{print $3, substr($4, 2)}'
}
# qemu-img bench: IOPS of COUNT 4 KiB writes at queue depth 32, spread over the LUN
# (a 1 MiB + 4 KiB stride that wraps around), timed by qemu-img itself.
qbench() {
    local count=$((SECS * 8000)) secs
    secs=$(qemu-img bench -w -f raw -t none -d 32 -s 4096 -S 1052672 -c "$count" "$1" |
        sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
    awk -v c="$count" -v s="$secs" 'BEGIN { printf "%d %d\n", c / s, c * 4096 / s / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# After a write load, the writes still going to disk (vsa's journals being written home,
# tgt's dirty pages) would run beside the next load and slow whoever comes next: wait for
# both to finish (up to 2 minutes), so each load is measured on a quiet machine.
settle() {
    local pending
    for _ in $(seq 600); do
        pending=$("$VSA" --data-dir "$WORK/vsa" --json pool list |
            jq '[.[] | .write_journal.pending_blocks // 0] | add') || pending=?
        [[ $pending == 0 ]] && break
        sleep 0.2
    done
    sync
}

declare -A R
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    for who in vsa vsa5 tgt; do
        case $who in vsa) u=$VSA_URL ;; vsa5) u=$VSA5_URL ;; *) u=$TGT_URL ;; esac
        read -r iops _ < <(perf "$u" 4096 -r)
        R[$who.rr]+="$iops "
        read -r _ mbs < <(perf "$u" 131072 "")
        R[$who.sr]+="$mbs "
        read -r iops _ < <(qbench "$u")
        R[$who.rw]+="$iops "
        settle
    done
done

row() { # label key unit target-raid0 target-raid5
    local v v5 t
    v=$(tr ' ' '\n' <<<"${R[vsa.$2]}" | grep . | median)
    v5=$(tr ' ' '\n' <<<"${R[vsa5.$2]}" | grep . | median)
    t=$(tr ' ' '\n' <<<"${R[tgt.$2]}" | grep . | median)
    awk -v l="$1" -v v="$v" -v v5="$v5" -v t="$t" -v u="$3" -v g="$4" -v g5="$5" \
        'BEGIN { printf "| %-30s | %10d %-4s | %10d %-4s | %10d %-4s | %5.2fx | %5.2fx | %s / %s |\n", l, v, u, v5, u, t, u, (t > 0 ? v / t : 0), (t > 0 ? v5 / t : 0), g, g5 }'
}
echo
echo "iSCSI, vsa vs tgt, $SIZE_MIB MiB LUN, ${SECS}s per load, median of $ROUNDS rounds"
echo
echo "| load                           |  vsa RAID 0 thick |  vsa RAID 5 thin  |        tgt        | R0/tgt | R5/tgt | target R0 / R5 |"
echo "| ------------------------------ | ----------------- | ----------------- | ----------------- | ------ | ------ | -------------- |"
row "4 KiB random read, QD32" rr IOPS "≥ 2x" "≥ 2x"
row "128 KiB sequential read, QD32" sr MB/s "≥ 1.5x" "≥ 1.5x"
row "4 KiB random write, QD32" rw IOPS "≥ 2x" "≥ 1.5x"
