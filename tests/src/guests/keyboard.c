/* A 64-bit test guest that waits for Ctrl+Alt+Del on its i8042 keyboard (scan code set
 * 1, polling the controller's status register) and then shuts down: it prints what it
 * saw on COM1 and powers off through the i8042. Entered in 64-bit mode; no SSE. */

typedef unsigned char u8;
typedef unsigned short u16;

static u8 stack[8192] __attribute__((aligned(16), used));
__asm__(".pushsection .text\n.global _start\n_start:\n"
        "  lea stack+8192(%rip), %rsp\n"
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

static void puts_(const char *s) {
    for (; *s; s++) {
        while (!(inb(0x3fd) & 0x20)) {
        }
        outb(0x3f8, (u8)*s);
    }
}

void main(void) {
    static const u8 seq[4] = {0x1d, 0x38, 0xe0, 0x53}; /* Ctrl, Alt, Del */
    int got = 0;
    /* The controller passes its self test, and the keyboard acknowledges a reset. */
    outb(0x64, 0xaa);
    while (!(inb(0x64) & 1)) {
    }
    if (inb(0x60) != 0x55) puts_("i8042 self test failed\n");
    puts_("waiting for ctrl-alt-del\n");
    for (;;) {
        if (!(inb(0x64) & 1)) {
            __asm__ volatile("pause");
            continue;
        }
        u8 b = inb(0x60);
        got = b == seq[got] ? got + 1 : (b == seq[0]);
        if (got == 4) {
            puts_("ctrl-alt-del: shutting down\n");
            return;
        }
    }
}
