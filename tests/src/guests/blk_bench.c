/* A 64-bit guest that measures its first virtio-blk disk, one request at a time (queue
 * depth 1, polling): it reads the whole disk in 1 MiB requests, then reads 4 KiB at
 * RAND_OPS pseudo-random 4 KiB-aligned places. Around each it prints a line ("seq start",
 * "seq done BYTES errors E", "rand start", "rand done OPS errors E"), so the host times
 * them from the console; then it powers off. */

#include "guest.h"
#include "blk.h"

#define BIG (1u << 20)
#define RAND_OPS 20000

static u8 buf[BIG] __attribute__((aligned(4096)));

void main(void) {
    u64 base = MMIO_BASE;
    if (!virtio_device(base, 2)) {
        puts_("blk bench: no disk\n");
        return;
    }
    if (blk_start(base, 0) < 0) return;
    u64 bytes = blk_capacity(base) * 512;
    u64 errors = 0;
    puts_("seq start\n");
    for (u64 off = 0; off + BIG <= bytes; off += BIG) errors += request(base, 0, off / 512, buf, BIG) != 0;
    puts_("seq done ");
    putu(bytes / BIG * BIG);
    puts_(" errors ");
    putu(errors);
    puts_("\nrand start\n");
    errors = 0;
    u64 x = 0x9e3779b97f4a7c15ULL, blocks = bytes / 4096;
    for (u32 i = 0; i < RAND_OPS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        errors += request(base, 0, (x % blocks) * 8, buf, 4096) != 0;
    }
    puts_("rand done ");
    putu(RAND_OPS);
    puts_(" errors ");
    putu(errors);
    puts_("\n");
}
