/* A 64-bit test guest that drives virtio-blk disks over virtio-mmio (version 2) the
 * way a driver does (virtio 1.2, 3.1 and 4.2.3), with nothing but polling: for each disk
 * in the VMM's device window it negotiates features, sets up one queue, reads the first
 * 64 KiB and prints their FNV-1a hash, prints the hash of the 4 KiB at sector 2048 (what an
 * earlier run left there), writes a 4 KiB block there, flushes, reads it back, and prints
 * every status on COM1. Then it powers off through the i8042.
 * Entered in 64-bit mode with identity paging over the first 4 GiB; no SSE. */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MMIO_BASE 0xd0000000ULL
#define MMIO_SIZE 0x1000ULL
#define MAX_DISKS 4
#define QSIZE 8
#define READ_LEN 65536
#define WRITE_SECTOR 2048

/* The entry: a stack of our own, main, then power off. */
static u8 stack[16384] __attribute__((aligned(16), used));
__asm__(".pushsection .text\n.global _start\n_start:\n"
        "  lea stack+16384(%rip), %rsp\n"
        "  call main\n"
        "  mov $0xfe, %al\n  outb %al, $0x64\n"
        "1: hlt\n  jmp 1b\n"
        ".popsection\n");

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void fence(void) { __asm__ volatile("mfence" ::: "memory"); }

static void putc_(char c) {
    while (!(inb(0x3fd) & 0x20)) {
    }
    outb(0x3f8, (u8)c);
}
static void puts_(const char *s) {
    while (*s) putc_(*s++);
}
static void putx(u64 v) {
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void putu(u64 v) {
    char b[21];
    int i = 20;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_(b + i);
}

static volatile u32 *reg(u64 base, u32 off) { return (volatile u32 *)(base + off); }
static u32 rd(u64 base, u32 off) { return *reg(base, off); }
static void wr(u64 base, u32 off, u32 v) { *reg(base, off) = v; }

struct desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
struct avail {
    u16 flags, idx, ring[QSIZE], used_event;
};
struct used_elem {
    u32 id, len;
};
struct used {
    u16 flags, idx;
    struct used_elem ring[QSIZE];
    u16 avail_event;
};
struct req_hdr {
    u32 type, reserved;
    u64 sector;
};

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req_hdr hdr;
static volatile u8 req_status;
static u8 data[READ_LEN] __attribute__((aligned(4096)));
static u8 block[4096] __attribute__((aligned(4096)));
static u16 last_used;

/* One request: header, an optional data buffer (device-writable for reads), status. */
static int request(u64 base, u32 type, u64 sector, void *buf, u32 len) {
    hdr.type = type;
    hdr.reserved = 0;
    hdr.sector = sector;
    req_status = 0xff;
    int n = 0;
    descs[n] = (struct desc){(u64)&hdr, sizeof hdr, 1, (u16)(n + 1)};
    n++;
    if (len) {
        descs[n] = (struct desc){(u64)buf, len, (u16)(1 | (type == 0 ? 2 : 0)), (u16)(n + 1)};
        n++;
    }
    descs[n] = (struct desc){(u64)&req_status, 1, 2, 0};
    avail.ring[avail.idx % QSIZE] = 0;
    fence();
    avail.idx++;
    fence();
    wr(base, 0x50, 0); /* QueueNotify: queue 0 */
    for (u64 spins = 0; *(volatile u16 *)&used.idx == last_used; spins++) {
        if (spins > 4000000000ULL) return -1;
        __asm__ volatile("pause");
    }
    fence();
    last_used++;
    return req_status;
}

static u64 fnv1a(const u8 *p, u64 n) {
    u64 h = 0xcbf29ce484222325ULL;
    for (u64 i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void zero(void *p, u64 n) {
    for (u64 i = 0; i < n; i++) ((volatile u8 *)p)[i] = 0;
}

static void disk(int i, u64 base) {
    puts_("disk ");
    putu(i);
    puts_(": ");
    wr(base, 0x70, 0); /* reset */
    wr(base, 0x70, 1);
    wr(base, 0x70, 3);
    wr(base, 0x14, 0);
    u32 f0 = rd(base, 0x10);
    wr(base, 0x14, 1);
    u32 f1 = rd(base, 0x10);
    if (!(f1 & 1)) {
        puts_("no VIRTIO_F_VERSION_1\n");
        return;
    }
    int ro = (f0 >> 5) & 1;
    /* Accept VERSION_1, and FLUSH (bit 9) and RO (bit 5) where offered. */
    wr(base, 0x24, 0);
    wr(base, 0x20, f0 & ((1u << 9) | (1u << 5)));
    wr(base, 0x24, 1);
    wr(base, 0x20, 1);
    wr(base, 0x70, 3 | 8);
    if (!(rd(base, 0x70) & 8)) {
        puts_("FEATURES_OK refused\n");
        return;
    }
    zero(descs, sizeof descs);
    zero(&avail, sizeof avail);
    zero(&used, sizeof used);
    last_used = 0;
    wr(base, 0x30, 0);
    if (rd(base, 0x34) < QSIZE) {
        puts_("queue too small\n");
        return;
    }
    wr(base, 0x38, QSIZE);
    wr(base, 0x80, (u32)(u64)descs);
    wr(base, 0x84, (u32)((u64)descs >> 32));
    wr(base, 0x90, (u32)(u64)&avail);
    wr(base, 0x94, (u32)((u64)&avail >> 32));
    wr(base, 0xa0, (u32)(u64)&used);
    wr(base, 0xa4, (u32)((u64)&used >> 32));
    wr(base, 0x44, 1);
    wr(base, 0x70, 3 | 8 | 4);
    if (rd(base, 0x70) & 0x40) {
        puts_("device needs reset\n");
        return;
    }
    u64 capacity = *(volatile u32 *)(base + 0x100) | ((u64) * (volatile u32 *)(base + 0x104) << 32);
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
        if (rd(base, 0) != 0x74726976 || rd(base, 4) != 2 || rd(base, 8) != 2) break;
        disk(i, base);
        found++;
    }
    puts_("virtio-blk guest done: ");
    putu((u64)found);
    puts_(" disks\n");
}
