/* A 64-bit test guest that drives virtio-blk disks over virtio-mmio (version 2) the
 * way a driver does (virtio 1.2, 3.1 and 4.2.3), with nothing but polling: for each disk
 * in the VMM's device window it negotiates features, sets up one queue, reads the first
 * 64 KiB and prints their FNV-1a hash, prints the hash of the 4 KiB at sector 2048 (what an
 * earlier run left there), writes a 4 KiB block there, flushes, reads it back, and prints
 * every status on COM1. Then it powers off through the i8042.
 * Entered in 64-bit mode with identity paging over the first 4 GiB; no SSE. */

#include "guest.h"
#include "blk.h"

#define MAX_DISKS 4
#define READ_LEN 65536
#define WRITE_SECTOR 2048

static u8 data[READ_LEN] __attribute__((aligned(4096)));
static u8 block[4096] __attribute__((aligned(4096)));

static u64 fnv1a(const u8 *p, u64 n) {
    u64 h = 0xcbf29ce484222325ULL;
    for (u64 i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void disk(int i, u64 base) {
    puts_("disk ");
    putu(i);
    puts_(": ");
    long long f0 = blk_start(base, (1u << 9) | (1u << 5)); /* FLUSH, RO */
    if (f0 < 0) return;
    int ro = (int)((f0 >> 5) & 1);
    u64 capacity = blk_capacity(base);
    puts_("capacity ");
    putu(capacity);
    puts_(" sectors, read-only ");
    putu((u64)ro);
    puts_("\n");

    int s = request(base, 0, 0, data, READ_LEN);
    puts_("disk ");
    putu(i);
    puts_(": read status ");
    putu((u64)s);
    puts_(" fnv1a ");
    putx(fnv1a(data, READ_LEN));
    puts_("\n");

    s = request(base, 0, WRITE_SECTOR, data, sizeof block);
    puts_("disk ");
    putu(i);
    puts_(": before write status ");
    putu((u64)s);
    puts_(" fnv1a ");
    putx(fnv1a(data, sizeof block));
    puts_("\n");

    const char *msg = "written by the virtio-blk test guest on disk ";
    u64 n = 0;
    while (msg[n]) {
        block[n] = (u8)msg[n];
        n++;
    }
    block[n++] = (u8)('0' + i);
    block[n++] = '\n';
    for (u64 k = n; k < sizeof block; k++) block[k] = (u8)k;
    s = request(base, 1, WRITE_SECTOR, block, sizeof block);
    puts_("disk ");
    putu(i);
    puts_(": write status ");
    putu((u64)s);
    s = request(base, 4, 0, 0, 0);
    puts_(" flush status ");
    putu((u64)s);
    zero(data, sizeof block);
    s = request(base, 0, WRITE_SECTOR, data, sizeof block);
    int same = 1;
    for (u64 k = 0; k < sizeof block; k++) same &= data[k] == block[k];
    puts_(" read-back status ");
    putu((u64)s);
    puts_(same ? " matches\n" : " differs\n");
    wr(base, 0x70, 0);
}

void main(void) {
    int found = 0;
    for (int i = 0; i < MAX_DISKS; i++) {
        u64 base = MMIO_BASE + (u64)i * MMIO_SIZE;
        if (!virtio_device(base, 2)) break;
        disk(i, base);
        found++;
    }
    puts_("virtio-blk guest done: ");
    putu((u64)found);
    puts_(" disks\n");
}
