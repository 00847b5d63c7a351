/* What every C test guest shares: fixed-width types, the entry (a stack of its own,
 * main, then power off through the i8042 the way Linux's reboot=k does), port I/O, the
 * COM1 console (polling the line status register), and the virtio-mmio register window
 * and split-ring layout (virtio 1.2, 2.7 and 4.2.2).
 * Entered in 64-bit mode with identity paging over the first 4 GiB; no SSE. */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

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
static inline u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

static inline void putc_(char c) {
    while (!(inb(0x3fd) & 0x20)) {
    }
    outb(0x3f8, (u8)c);
}
static inline void puts_(const char *s) {
    while (*s) putc_(*s++);
}
static inline void putx(u64 v) {
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static inline void putu(u64 v) {
    char b[21];
    int i = 20;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_(b + i);
}
static inline void zero(void *p, u64 n) {
    for (u64 i = 0; i < n; i++) ((volatile u8 *)p)[i] = 0;
}

/* The VMM's virtio-mmio windows: 4 KiB each from 0xd0000000, disks first. */
#define MMIO_BASE 0xd0000000ULL
#define MMIO_SIZE 0x1000ULL
#define MMIO_SLOTS 11

static inline u32 rd(u64 base, u32 off) { return *(volatile u32 *)(base + off); }
static inline void wr(u64 base, u32 off, u32 v) { *(volatile u32 *)(base + off) = v; }
static inline u8 rd8(u64 base, u32 off) { return *(volatile u8 *)(base + off); }

/* Whether a virtio-mmio device of type `type` (version 2) sits at `base`. */
static inline int virtio_device(u64 base, u32 type) {
    return rd(base, 0) == 0x74726976 && rd(base, 4) == 2 && rd(base, 8) == type;
}

/* Resets the device and offers it `wanted` of the low 32 feature bits with
 * VIRTIO_F_VERSION_1; returns the low bits the device offers, or -1 (printed) when the
 * device has no VERSION_1 or refuses FEATURES_OK. */
static inline long long virtio_negotiate(u64 base, u32 wanted) {
    wr(base, 0x70, 0);
    wr(base, 0x70, 1);
    wr(base, 0x70, 3);
    wr(base, 0x14, 0);
    u32 f0 = rd(base, 0x10);
    wr(base, 0x14, 1);
    if (!(rd(base, 0x10) & 1)) {
        puts_("no VIRTIO_F_VERSION_1\n");
        return -1;
    }
    wr(base, 0x24, 0);
    wr(base, 0x20, f0 & wanted);
    wr(base, 0x24, 1);
    wr(base, 0x20, 1);
    wr(base, 0x70, 3 | 8);
    if (!(rd(base, 0x70) & 8)) {
        puts_("FEATURES_OK refused\n");
        return -1;
    }
    return f0;
}

/* Gives queue `q` of `size` entries its three parts; 0 when the device's queue is too
 * small. */
static inline int virtio_queue(u64 base, u32 q, u32 size, void *desc, void *avail, void *used) {
    wr(base, 0x30, q);
    if (rd(base, 0x34) < size) {
        puts_("queue too small\n");
        return 0;
    }
    wr(base, 0x38, size);
    wr(base, 0x80, (u32)(u64)desc);
    wr(base, 0x84, (u32)((u64)desc >> 32));
    wr(base, 0x90, (u32)(u64)avail);
    wr(base, 0x94, (u32)((u64)avail >> 32));
    wr(base, 0xa0, (u32)(u64)used);
    wr(base, 0xa4, (u32)((u64)used >> 32));
    wr(base, 0x44, 1);
    return 1;
}

/* Sets DRIVER_OK; 0 (printed) when the device then wants a reset. */
static inline int virtio_start(u64 base) {
    wr(base, 0x70, 3 | 8 | 4);
    if (rd(base, 0x70) & 0x40) {
        puts_("device needs reset\n");
        return 0;
    }
    return 1;
}

struct desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
struct used_elem {
    u32 id, len;
};
