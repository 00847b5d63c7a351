//! A Linux guest whose SCSI devices are iSCSI LUNs: the kernel's own `sd`, `st`, `ch` and
//! `sg` drivers, and user tools (`mt`, `mtx`, GNU `tar`, Bacula's `btape`, `sg_*`), drive
//! the LUNs the way they would on a real host.
//!
//! This machine cannot load kernel modules into its own kernel, and its KVM cannot boot a
//! stock kernel, so the client is a qemu guest under TCG:
//!
//! ```text
//! test ──▶ Guest::run(script)
//!            │ builds an initramfs: busybox, the kernel's modules, host binaries + libraries,
//!            │ extra files, /init (load modules, wait for devices, run the script, power off)
//!            ▼
//!          qemu-system-x86_64 -accel tcg -kernel vmlinuz -initrd initramfs
//!            │ -drive file=iscsi://…,if=none  -device scsi-generic (one per LUN, in order)
//!            ▼
//!          guest kernel: virtio_scsi ─▶ sd / st / ch / sg ─▶ the test's shell script
//!            │ its CDBs pass through qemu's iSCSI driver unchanged
//!            ▼
//!          the target under test on 127.0.0.1
//! ```
//!
//! The kernel is Debian's `linux-image-amd64` (the package it depends on, e.g.
//! `linux-image-6.1.0-57-amd64`) and busybox is Debian's `busybox-static`, both fetched
//! once with `apt-get download` and unpacked with `dpkg-deb -x` into a cache outside the
//! clone (`$VSA_GUEST_CACHE`, by default `/var/tmp/vsa-guest`), under a lock so that
//! parallel tests fetch them once. Host binaries are copied with the shared libraries
//! `ldd` names: the tests' host is Debian 12, the userland the guest would have.
//!
//! Everything waits by condition (a device node, the end marker on the console) with a
//! generous limit; nothing sleeps a fixed time.
//!
//! ```no_run
//! use vsa_e2e::guest::Guest;
//! let run = Guest::new()
//!     .lun("iscsi://127.0.0.1:3260/iqn.2026-01.invalid.vsa:t/0")
//!     .binaries(&["sg_inq"])
//!     .wait_for(&["/dev/sda"])
//!     .run("sg_inq /dev/sg0");
//! assert_eq!(run.status, 0, "{}", run.console);
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The kernel's Debian meta-package; the real package is the one it depends on.
const KERNEL_META: &str = "linux-image-amd64";
/// What the console shows right before the test's script starts.
const SCRIPT_START: &str = "=== vsa-guest: script start ===";
/// What the console shows when the script has ended, followed by its exit status.
const END_MARKER: &str = "=== vsa-guest: script exit status ";
/// The default initiator name the guest's qemu logs in with.
pub const DEFAULT_INITIATOR: &str = "iqn.2026-01.invalid.vsa:guest";

/// Modules every guest loads (with their dependencies): the virtio SCSI host and the
/// upper-level drivers for disks, tapes, changers and the generic device. The
/// `*_generic` crypto modules are what `sd_mod`'s T10 protection information asks the
/// crypto API for by an alias; the initramfs has no `modprobe`, so they load by name.
const DEFAULT_MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_scsi",
    "crct10dif_generic",
    "crc64_rocksoft_generic",
    "sd_mod",
    "sg",
    "st",
    "ch",
];

/// Why a guest could not be prepared or did not finish.
#[derive(Debug)]
#[non_exhaustive]
pub enum GuestError {
    /// Something the harness needs is not on this host.
    Missing {
        /// What is missing.
        what: String,
        /// What to do about it (the package to install).
        install: String,
    },
    /// Preparing the kernel, busybox or the initramfs failed.
    Setup(String),
    /// Fetching the kernel or busybox failed earlier in this process (the first error,
    /// as text).
    Cached(String),
    /// qemu exited before the script's end marker appeared.
    QemuExited {
        /// qemu's exit status.
        status: String,
        /// The console so far.
        console: String,
        /// qemu's standard error.
        stderr: String,
    },
    /// No end marker within the limit; qemu was killed.
    Timeout {
        /// The limit.
        limit: Duration,
        /// The console so far.
        console: String,
        /// qemu's standard error.
        stderr: String,
    },
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Missing { what, install } => {
                write!(f, "{what} is missing on this host: {install}")
            }
            GuestError::Setup(msg) => write!(f, "preparing the guest failed: {msg}"),
            GuestError::Cached(msg) => f.write_str(msg),
            GuestError::QemuExited {
                status,
                console,
                stderr,
            } => {
                write!(
                    f,
                    "qemu exited ({status}) before the guest's script finished.{}\n\
                     qemu's stderr:\n{stderr}\nthe console:\n{console}",
                    qemu_hint(stderr)
                )
            }
            GuestError::Timeout {
                limit,
                console,
                stderr,
            } => write!(
                f,
                "the guest did not finish within {} s; qemu was killed.\n\
                 qemu's stderr:\n{stderr}\nthe console so far:\n{console}",
                limit.as_secs()
            ),
        }
    }
}

impl std::error::Error for GuestError {}

/// A hint for qemu errors whose cause is a missing package.
fn qemu_hint(stderr: &str) -> String {
    if stderr.contains("Unknown protocol 'iscsi'") || stderr.contains("block-iscsi") {
        format!(
            "\nqemu has no iscsi:// driver: install the qemu-block-extra matching qemu \
             (`apt-get install qemu-block-extra={}`, see .ci/run)",
            qemu_utils_version()
        )
    } else {
        String::new()
    }
}

fn qemu_utils_version() -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "qemu-utils"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "<the installed qemu-utils version>".to_owned())
}

/// What one guest run left behind.
#[derive(Debug, Clone)]
pub struct GuestRun {
    /// Everything the guest printed on its serial console (carriage returns removed).
    pub console: String,
    /// The script's exit status (125 if the guest failed before running it: a module
    /// that did not load or a device that did not appear; the console says which).
    pub status: i32,
    /// From starting qemu to the end marker.
    pub elapsed: Duration,
}

impl GuestRun {
    /// What the console showed while the script ran (between the start and end markers).
    pub fn output(&self) -> &str {
        let start = self
            .console
            .find(SCRIPT_START)
            .map_or(0, |i| i + SCRIPT_START.len());
        let rest = &self.console[start..];
        let end = rest.find(END_MARKER).unwrap_or(rest.len());
        rest[..end].trim_start_matches('\n')
    }
}

/// A guest to boot: its LUNs, the host binaries and files it carries, what it waits for.
#[derive(Debug, Clone)]
pub struct Guest {
    luns: Vec<String>,
    vhost_disks: Vec<PathBuf>,
    binaries: Vec<String>,
    files: Vec<(String, Vec<u8>, u32)>,
    modules: Vec<String>,
    wait_for: Vec<String>,
    initiator_name: String,
    memory_mb: u32,
    append: Vec<String>,
    timeout: Duration,
    device_limit_secs: u32,
}

impl Default for Guest {
    fn default() -> Self {
        Self::new()
    }
}

impl Guest {
    /// A guest with no LUNs, busybox only, 512 MiB, and a ten-minute limit.
    pub fn new() -> Guest {
        Guest {
            luns: Vec::new(),
            vhost_disks: Vec::new(),
            binaries: Vec::new(),
            files: Vec::new(),
            modules: DEFAULT_MODULES.iter().map(|m| (*m).to_owned()).collect(),
            wait_for: Vec::new(),
            initiator_name: DEFAULT_INITIATOR.to_owned(),
            memory_mb: 512,
            append: Vec::new(),
            timeout: Duration::from_secs(600),
            device_limit_secs: 180,
        }
    }

    /// Adds an `iscsi://host:port/iqn/lun` LUN as the next `scsi-generic` device on the
    /// guest's virtio-scsi bus: the first is SCSI target 0 (`/dev/sg0`), the next 1, and so
    /// on. qemu passes the guest's CDBs to the LUN unchanged, so the guest's kernel picks
    /// the driver by the LUN's device type (`sd`, `st`, `ch`).
    pub fn lun(mut self, iscsi_url: &str) -> Guest {
        self.luns.push(iscsi_url.to_owned());
        self
    }

    /// Adds a virtio-blk disk served by a vhost-user-blk backend listening on `socket`
    /// (`vsa vhost export`): the first is `/dev/vda`, the next `/dev/vdb`, and so on. The
    /// guest's memory becomes a shared memfd, which the backend maps. qemu reconnects
    /// to the socket if the backend goes away, so a restarted daemon serves the disk again.
    pub fn vhost_disk(mut self, socket: &Path) -> Guest {
        self.vhost_disks.push(socket.to_owned());
        if !self.modules.iter().any(|m| m == "virtio_blk") {
            self.modules.push("virtio_blk".to_owned());
        }
        self
    }

    /// Copies these host programs (names found on the host's PATH and in /usr/sbin, or
    /// absolute paths) into the guest's /usr/bin or /usr/sbin, with the shared libraries
    /// `ldd` names. Host programs come before busybox's applets on the guest's PATH.
    pub fn binaries(mut self, names: &[&str]) -> Guest {
        self.binaries.extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    /// Adds a file (mode 0644) at this absolute path in the guest.
    pub fn file(mut self, guest_path: &str, bytes: impl Into<Vec<u8>>) -> Guest {
        self.files
            .push((guest_path.to_owned(), bytes.into(), 0o644));
        self
    }

    /// Adds an executable file (mode 0755) at this absolute path in the guest.
    pub fn executable(mut self, guest_path: &str, bytes: impl Into<Vec<u8>>) -> Guest {
        self.files
            .push((guest_path.to_owned(), bytes.into(), 0o755));
        self
    }

    /// Loads these kernel modules too (with their dependencies), after the default ones.
    pub fn modules(mut self, names: &[&str]) -> Guest {
        self.modules.extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    /// Before the script, waits until these paths exist (`/dev/sda`, `/dev/nst0`,
    /// `/dev/sch0`). The guest always waits for one `/sys/class/scsi_generic` entry per
    /// LUN first.
    pub fn wait_for(mut self, paths: &[&str]) -> Guest {
        self.wait_for.extend(paths.iter().map(|p| (*p).to_owned()));
        self
    }

    /// The iSCSI initiator name qemu logs in with (default [`DEFAULT_INITIATOR`]).
    pub fn initiator_name(mut self, iqn: &str) -> Guest {
        iqn.clone_into(&mut self.initiator_name);
        self
    }

    /// The guest's memory in MiB (default 512).
    pub fn memory_mb(mut self, mb: u32) -> Guest {
        self.memory_mb = mb;
        self
    }

    /// Adds to the kernel's command line (`loglevel=7` shows the drivers' messages).
    pub fn append(mut self, arg: &str) -> Guest {
        self.append.push(arg.to_owned());
        self
    }

    /// The limit for the whole run, from starting qemu to the end marker (default ten
    /// minutes; TCG on a loaded machine is slow, so keep it generous).
    pub fn timeout(mut self, limit: Duration) -> Guest {
        self.timeout = limit;
        self
    }

    /// Boots the guest, runs `script` with `dash` (the host's, as Debian's `/bin/sh`; the
    /// programs it runs are the host binaries added, then busybox's applets) and returns the console and the
    /// script's exit status. Panics with the console if the guest does not get there.
    pub fn run(&self, script: &str) -> GuestRun {
        self.try_run(script).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Guest::run`], returning what went wrong instead of panicking.
    pub fn try_run(&self, script: &str) -> Result<GuestRun, GuestError> {
        let qemu = find_program("qemu-system-x86_64").ok_or_else(|| GuestError::Missing {
            what: "qemu-system-x86_64".to_owned(),
            install: format!(
                "apt-get install -t bookworm-backports --no-install-recommends \
                 qemu-system-x86={} (the version of qemu-utils; see .ci/run)",
                qemu_utils_version()
            ),
        })?;
        let kernel = Kernel::get()?;
        let busybox = busybox()?;
        let work = WorkDir::new()?;
        let initrd = work.0.join("initramfs.cpio");
        let image = self.initramfs(kernel, busybox, script)?;
        std::fs::write(&initrd, image)
            .map_err(|e| GuestError::Setup(format!("writing {}: {e}", initrd.display())))?;

        let mut cmdline = vec!["console=ttyS0", "quiet", "panic=-1"];
        cmdline.extend(self.append.iter().map(String::as_str));
        let mut cmd = Command::new(qemu);
        cmd.args([
            "-accel",
            "tcg",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
        ])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .args(["-m", &self.memory_mb.to_string(), "-smp", "1"])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", &cmdline.join(" ")])
        .args(["-iscsi", &format!("initiator-name={}", self.initiator_name)])
        .args(["-device", "virtio-scsi-pci,id=scsi0"]);
        for (i, url) in self.luns.iter().enumerate() {
            cmd.args([
                "-drive",
                &format!("file={url},if=none,id=lun{i},format=raw"),
                "-device",
                &format!("scsi-generic,drive=lun{i},bus=scsi0.0,scsi-id={i},lun=0"),
            ]);
        }
        if !self.vhost_disks.is_empty() {
            let mem = format!(
                "memory-backend-memfd,id=mem,size={}M,share=on",
                self.memory_mb
            );
            cmd.args(["-object", &mem, "-machine", "memory-backend=mem"]);
        }
        for (i, socket) in self.vhost_disks.iter().enumerate() {
            cmd.arg("-chardev")
                .arg(format!(
                    "socket,id=vub{i},path={},reconnect-ms=200",
                    socket.display()
                ))
                .args([
                    "-device",
                    &format!("vhost-user-blk-pci,chardev=vub{i},num-queues=1"),
                ]);
        }
        run_qemu(cmd, self.timeout)
    }

    /// The initramfs this guest would boot with to run `script` (cpio, newc), for a VMM
    /// other than qemu: its /init loads the modules, runs the script, prints the end
    /// marker ([`end_status`] reads it) and powers off.
    pub fn initramfs_image(&self, script: &str) -> Result<Vec<u8>, GuestError> {
        self.initramfs(Kernel::get()?, busybox()?, script)
    }

    /// The initramfs (cpio, newc, uncompressed) for this guest and script.
    fn initramfs(
        &self,
        kernel: &Kernel,
        busybox: &Path,
        script: &str,
    ) -> Result<Vec<u8>, GuestError> {
        let mut cpio = Cpio::default();
        cpio.char_dev("dev/console", 0o600, 5, 1);
        for dir in ["proc", "sys", "tmp", "run", "root", "var/tmp", "mnt"] {
            cpio.dir(dir);
        }
        cpio.file("bin/busybox", &read(busybox)?, 0o755);
        // /bin/sh is dash, as on Debian: a `#!/bin/sh` script (Bacula's mtx-changer) runs
        // the host programs added (mt-st's `mt`) rather than busybox's applets of the same
        // name, which busybox's own shell would prefer.
        cpio.symlink("bin/sh", "../usr/bin/dash");
        cpio.file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nbacula:x:101:26::/var/lib/bacula:/bin/sh\n",
            0o644,
        );
        cpio.file("etc/group", b"root:x:0:\ndisk:x:6:\ntape:x:26:\n", 0o644);
        cpio.file(
            "etc/nsswitch.conf",
            b"passwd: files\ngroup: files\nhosts: files\n",
            0o644,
        );

        // Modules, in the order they load.
        let order = kernel.load_order(&self.modules)?;
        let mut module_list = String::new();
        for path in &order {
            let rel = path.strip_prefix(&kernel.root).map_err(|_| {
                GuestError::Setup(format!("{} is outside the kernel", path.display()))
            })?;
            cpio.file(&rel.to_string_lossy(), &read(path)?, 0o644);
            module_list.push('/');
            module_list.push_str(&rel.to_string_lossy());
            module_list.push('\n');
        }
        cpio.file("etc/vsa-guest/modules", module_list.as_bytes(), 0o644);

        // Host binaries and their libraries.
        let mut lib_dirs = BTreeSet::new();
        let mut libs = BTreeSet::new();
        // The script runs in the host's dash, not busybox sh: Debian's static busybox
        // prefers its own applets (`mt`, `tar`) to any program on PATH.
        let shell = ["dash".to_owned()];
        for name in shell.iter().chain(&self.binaries) {
            let host = find_program(name).ok_or_else(|| GuestError::Missing {
                what: format!("the program {name}"),
                install: install_hint(name),
            })?;
            let real = std::fs::canonicalize(&host)
                .map_err(|e| GuestError::Setup(format!("{}: {e}", host.display())))?;
            let in_sbin = host.parent().is_some_and(|d| d.ends_with("sbin"));
            let base = Path::new(name)
                .file_name()
                .map_or_else(|| name.clone(), |b| b.to_string_lossy().into_owned());
            let guest = if in_sbin {
                format!("usr/sbin/{base}")
            } else {
                format!("usr/bin/{base}")
            };
            cpio.file(&guest, &read(&real)?, 0o755);
            for lib in shared_libraries(&real)? {
                if let Some(dir) = lib.parent() {
                    lib_dirs.insert(dir.to_string_lossy().into_owned());
                }
                libs.insert(lib);
            }
        }
        for lib in &libs {
            let real = std::fs::canonicalize(lib)
                .map_err(|e| GuestError::Setup(format!("{}: {e}", lib.display())))?;
            let rel = lib.to_string_lossy().trim_start_matches('/').to_owned();
            cpio.file(&rel, &read(&real)?, 0o755);
        }

        for (path, bytes, mode) in &self.files {
            cpio.file(path.trim_start_matches('/'), bytes, *mode);
        }

        let mut waits = String::new();
        for p in &self.wait_for {
            waits.push_str(&format!(
                "wait_for_path {} {} || fail \"{} did not appear\"\n",
                shell_quote(p),
                self.device_limit_secs,
                p
            ));
        }
        let init = INIT
            .replace(
                "@LIB_PATH@",
                &lib_dirs.into_iter().collect::<Vec<_>>().join(":"),
            )
            .replace("@LUNS@", &self.luns.len().to_string())
            .replace("@LIMIT@", &self.device_limit_secs.to_string())
            .replace("@WAITS@", &waits)
            .replace("@START@", SCRIPT_START)
            .replace("@END@", END_MARKER);
        cpio.file("init", init.as_bytes(), 0o755);
        cpio.file("etc/vsa-guest/functions", FUNCTIONS.as_bytes(), 0o644);
        cpio.file("etc/vsa-guest/script", script.as_bytes(), 0o755);
        Ok(cpio.finish())
    }
}

/// Shell functions for the init and the test's script (`wait_for_path PATH SECONDS`).
const FUNCTIONS: &str = r#"# Waits until PATH exists, polling every 0.1 s, for at most SECONDS.
wait_for_path() {
    _n=0
    while [ ! -e "$1" ]; do
        [ "$_n" -ge $(($2 * 10)) ] && return 1
        sleep 0.1
        _n=$((_n + 1))
    done
}
"#;

/// The guest's /init (busybox sh).
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export LD_LIBRARY_PATH=@LIB_PATH@
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
. /etc/vsa-guest/functions

fail() {
    echo "vsa-guest: $1"
    echo "@END@125"
    sync
    poweroff -f
}

while read -r m; do
    insmod "$m" || fail "insmod $m failed"
done </etc/vsa-guest/modules

# One scsi_generic entry per LUN (the sg driver attaches to every SCSI device).
n=0
while [ "$(ls /sys/class/scsi_generic 2>/dev/null | wc -l)" -lt @LUNS@ ]; do
    [ "$n" -ge $((@LIMIT@ * 10)) ] && fail "only $(ls /sys/class/scsi_generic | wc -l) of @LUNS@ SCSI devices appeared"
    sleep 0.1
    n=$((n + 1))
done
@WAITS@
cd /root
echo "@START@"
/usr/bin/dash -c '. /etc/vsa-guest/functions; . /etc/vsa-guest/script'
rc=$?
sync
echo "@END@$rc"
poweroff -f
"#;

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>, GuestError> {
    std::fs::read(path).map_err(|e| GuestError::Setup(format!("reading {}: {e}", path.display())))
}

/// A program on the host: an absolute path as given, or the first match on PATH, then in
/// the sbin directories (not on a non-root PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Debian package that provides a tool the tests use.
fn install_hint(name: &str) -> String {
    let package = match name {
        "mt" | "mt-st" | "stinit" => "mt-st",
        "mtx" | "tapeinfo" | "loaderinfo" | "scsitape" => "mtx",
        "btape" | "bls" | "bextract" | "bscan" | "bcopy" | "bacula-sd" => "bacula-sd",
        "stenc" => "stenc",
        "tar" => "tar",
        "dash" => "dash",
        n if n.starts_with("sg_") || n.starts_with("sginfo") => "sg3-utils",
        n if n.starts_with("iscsi-") => "libiscsi-bin",
        _ => {
            return format!(
                "install the Debian package that provides {name} (`apt-file search {name}`)"
            )
        }
    };
    format!("apt-get install --no-install-recommends {package} (.ci/run installs it)")
}

/// The shared libraries `ldd` names for a program (and its dynamic loader), as the paths
/// the program will look them up at.
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, GuestError> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| GuestError::Missing {
            what: format!("ldd ({e})"),
            install: "apt-get install libc-bin".to_owned(),
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    if !out.status.success() {
        return Err(GuestError::Setup(format!(
            "ldd {} failed: {text}",
            program.display()
        )));
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("=> not found") {
            return Err(GuestError::Setup(format!(
                "{} needs a library the host does not have: {line}",
                program.display()
            )));
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// A temporary directory for one run's initramfs, removed afterwards.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<WorkDir, GuestError> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vsa-guest-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| GuestError::Setup(format!("creating {}: {e}", dir.display())))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs qemu until the end marker (then until it powers off), a limit, or its exit.
fn run_qemu(mut cmd: Command, limit: Duration) -> Result<GuestRun, GuestError> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GuestError::Setup(format!("starting qemu-system-x86_64: {e}")))?;
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    let mut stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });

    let deadline = started + limit;
    let mut raw = Vec::new();
    let mut ended: Option<(i32, Duration)> = None;
    let mut eof = false;
    while !eof {
        let now = Instant::now();
        // After the end marker, the guest powers off at once; give it a minute.
        let until = match ended {
            Some((_, at)) => (started + at + Duration::from_secs(60)).min(deadline.max(now)),
            None => deadline,
        };
        if now >= until {
            break;
        }
        match rx.recv_timeout(until - now) {
            Ok(Some(chunk)) => {
                raw.extend_from_slice(&chunk);
                if ended.is_none() {
                    if let Some(status) = end_status(&console_text(&raw)) {
                        ended = Some((status, started.elapsed()));
                    }
                }
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => eof = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    if !eof {
        let _ = child.kill();
    }
    let exit = child.wait();
    let stderr = stderr_thread.join().unwrap_or_default();
    let console = console_text(&raw);
    match ended {
        Some((status, elapsed)) => Ok(GuestRun {
            console,
            status,
            elapsed,
        }),
        None if eof => Err(GuestError::QemuExited {
            status: exit.map_or_else(|e| e.to_string(), |s| s.to_string()),
            console,
            stderr,
        }),
        None => Err(GuestError::Timeout {
            limit,
            console,
            stderr,
        }),
    }
}

fn console_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace('\r', "")
}

/// The script's exit status after the end marker on the console, once its line is
/// complete.
pub fn end_status(console: &str) -> Option<i32> {
    let at = console.rfind(END_MARKER)?;
    let rest = &console[at + END_MARKER.len()..];
    let line = rest.split_once('\n')?.0;
    line.trim().parse().ok()
}

mod cpio;
mod debian;

use cpio::Cpio;
use debian::busybox;
pub use debian::{cache_dir, Kernel};

#[cfg(test)]
mod tests {
    use super::debian::{find, modinfo};
    use super::*;

    #[test]
    fn cpio_entries_are_newc_and_aligned() {
        let mut c = Cpio::default();
        c.file("a/b/c", b"hello", 0o644);
        let out = c.finish();
        let text = String::from_utf8_lossy(&out);
        // a, a/b, a/b/c, TRAILER!!!
        assert_eq!(text.matches("070701").count(), 4);
        assert!(text.contains("a/b/c\0"));
        assert_eq!(out.len() % 4, 0);
        // The file's header: mode 0100644, size 5.
        let at = find(&out, b"a/b/c\0").unwrap();
        let header = &out[at - 110..at];
        assert_eq!(&header[14..22], b"000081a4");
        assert_eq!(&header[54..62], b"00000005");
    }

    #[test]
    fn the_end_marker_gives_the_status_once_its_line_is_complete() {
        assert_eq!(end_status("x\n=== vsa-guest: script exit status 3"), None);
        assert_eq!(
            end_status("x\n=== vsa-guest: script exit status 3\n"),
            Some(3)
        );
        let run = GuestRun {
            console: format!("boot\n{SCRIPT_START}\nhello\n{END_MARKER}0\n"),
            status: 0,
            elapsed: Duration::ZERO,
        };
        assert_eq!(run.output(), "hello\n");
    }

    #[test]
    fn modinfo_reads_depends_and_softdep() {
        let ko = b"junk\0license=GPL\0softdep=pre: crc64\0depends=crc64,x-y\0vermagic=6\0";
        let info = modinfo(ko);
        assert_eq!(info["depends"], "crc64,x-y");
        assert_eq!(info["softdep"], "pre: crc64");
    }
}
