//! The cache of Debian packages the guests are made of, fetched once with `apt-get
//! download` under a lock: busybox-static and the kernel (its vmlinuz, modules and their
//! dependencies).

use super::KERNEL_META;
use super::{read, GuestError};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cache directory (`$VSA_GUEST_CACHE`, by default `/var/tmp/vsa-guest`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("VSA_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/vsa-guest"))
}

/// Runs a command, returning its stdout, or an error naming the command and its output.
fn command_output(cmd: &mut Command) -> Result<String, GuestError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| GuestError::Missing {
        what: format!("{shown} ({e})"),
        install: "apt-get install apt dpkg (Debian's package tools)".to_owned(),
    })?;
    if !out.status.success() {
        return Err(GuestError::Setup(format!(
            "{shown} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The candidate version apt would download for a package.
fn candidate_version(package: &str) -> Result<String, GuestError> {
    let text = command_output(Command::new("apt-cache").args(["policy", package]))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| v != "(none)")
        .ok_or_else(|| GuestError::Missing {
            what: format!("the Debian package {package}"),
            install: "apt has no candidate for it: run `apt-get update` (Debian 12 sources)"
                .to_owned(),
        })
}

/// A lock held by a directory's existence (`mkdir` is atomic), with the holder's pid
/// inside so that a lock left by a killed process is taken over.
struct CacheLock(PathBuf);

impl CacheLock {
    fn acquire(cache: &Path) -> Result<CacheLock, GuestError> {
        let dir = cache.join(".lock");
        // Fetching and unpacking a kernel takes seconds to a few minutes.
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let _ = std::fs::write(dir.join("pid"), std::process::id().to_string());
                    return Ok(CacheLock(dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(dir.join("pid")).ok();
                    let dead = holder
                        .as_deref()
                        .and_then(|p| p.trim().parse::<u32>().ok())
                        .is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
                    // No pid file yet: the holder is between mkdir and write, unless it
                    // died there; an old lock without a pid is stale.
                    let orphan = holder.is_none()
                        && std::fs::metadata(&dir)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| t.elapsed().ok())
                            .is_some_and(|age| age > Duration::from_secs(60));
                    if dead || orphan {
                        let _ = std::fs::remove_dir_all(&dir);
                        continue;
                    }
                }
                Err(e) => {
                    return Err(GuestError::Setup(format!(
                        "creating the lock {}: {e}",
                        dir.display()
                    )))
                }
            }
            if Instant::now() >= deadline {
                return Err(GuestError::Setup(format!(
                    "{} is still locked after 15 minutes (held by pid {})",
                    dir.display(),
                    std::fs::read_to_string(dir.join("pid")).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Downloads a Debian package once and unpacks it into the cache; returns the directory
/// it was unpacked into (`<cache>/<package>_<version>`). A half-done unpack never shows:
/// it happens in a temporary directory renamed into place.
fn debian_package(package: &str) -> Result<PathBuf, GuestError> {
    let version = candidate_version(package)?;
    let cache = cache_dir();
    let dest = cache.join(format!("{package}_{}", version.replace(':', "%3a")));
    if dest.is_dir() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| GuestError::Setup(format!("creating {}: {e}", cache.display())))?;
    let _lock = CacheLock::acquire(&cache)?;
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = cache.join(format!(".tmp-{package}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("root"))
        .map_err(|e| GuestError::Setup(format!("creating {}: {e}", tmp.display())))?;
    let result = (|| {
        command_output(
            Command::new("apt-get")
                .args(["download", "-q", &format!("{package}={version}")])
                .current_dir(&tmp),
        )
        .map_err(|e| GuestError::Missing {
            what: format!("the Debian package {package}={version}"),
            install: format!(
                "`apt-get download` could not fetch it (network? apt-get update?): {e}"
            ),
        })?;
        let deb = std::fs::read_dir(&tmp)
            .map_err(|e| GuestError::Setup(format!("{}: {e}", tmp.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or_else(|| {
                GuestError::Setup(format!("apt-get download left no .deb for {package}"))
            })?;
        command_output(
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(tmp.join("root")),
        )?;
        std::fs::rename(tmp.join("root"), &dest)
            .map_err(|e| GuestError::Setup(format!("moving into {}: {e}", dest.display())))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| dest)
}

/// Debian's static busybox, from the cache.
pub(super) fn busybox() -> Result<&'static Path, GuestError> {
    static BUSYBOX: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUSYBOX
        .get_or_init(|| {
            let root = debian_package("busybox-static").map_err(|e| e.to_string())?;
            let bin = root.join("bin/busybox");
            if bin.is_file() {
                Ok(bin)
            } else {
                Err(format!("busybox-static has no {}", bin.display()))
            }
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(|e| GuestError::Cached(e.clone()))
}

/// A Debian kernel unpacked in the cache.
#[derive(Debug)]
pub struct Kernel {
    /// The unpacked package's root.
    pub(super) root: PathBuf,
    /// `boot/vmlinuz-<release>`.
    pub vmlinuz: PathBuf,
    /// The kernel's release (`uname -r`), e.g. `6.1.0-57-amd64`.
    pub release: String,
    /// Module name (dashes as underscores) → its `.ko`.
    modules: HashMap<String, PathBuf>,
    /// Modules built into the kernel (from `modules.builtin`).
    builtin: BTreeSet<String>,
}

impl Kernel {
    /// The kernel `linux-image-amd64` depends on (or `$VSA_GUEST_KERNEL_PACKAGE`),
    /// fetched and unpacked once.
    pub fn get() -> Result<&'static Kernel, GuestError> {
        static KERNEL: OnceLock<Result<Kernel, String>> = OnceLock::new();
        KERNEL
            .get_or_init(|| Kernel::load().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| GuestError::Cached(e.clone()))
    }

    fn load() -> Result<Kernel, GuestError> {
        let package = match std::env::var("VSA_GUEST_KERNEL_PACKAGE") {
            Ok(p) => p,
            Err(_) => kernel_package()?,
        };
        let root = debian_package(&package)?;
        let modules_root = root.join("lib/modules");
        let release = std::fs::read_dir(&modules_root)
            .map_err(|e| GuestError::Setup(format!("{}: {e}", modules_root.display())))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .next()
            .ok_or_else(|| GuestError::Setup(format!("{package} has no modules")))?;
        let vmlinuz = root.join(format!("boot/vmlinuz-{release}"));
        if !vmlinuz.is_file() {
            return Err(GuestError::Setup(format!(
                "{} is missing",
                vmlinuz.display()
            )));
        }
        let dir = modules_root.join(&release);
        let mut modules = HashMap::new();
        let mut stack = vec![dir.join("kernel")];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d)
                .map_err(|e| GuestError::Setup(format!("{}: {e}", d.display())))?;
            for e in entries.filter_map(Result::ok) {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) {
                    if let Some(stem) = name.strip_suffix(".ko") {
                        modules.insert(module_key(stem), p);
                    } else if name.contains(".ko.") {
                        return Err(GuestError::Setup(format!(
                            "{package} has compressed modules ({name}); the guest loads \
                             plain .ko files with busybox insmod: set \
                             VSA_GUEST_KERNEL_PACKAGE to a kernel that ships them \
                             (Debian 12's linux-image-amd64 does)"
                        )));
                    }
                }
            }
        }
        let builtin = std::fs::read_to_string(dir.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| Path::new(l).file_name())
            .map(|n| module_key(n.to_string_lossy().trim_end_matches(".ko")))
            .collect();
        Ok(Kernel {
            root,
            vmlinuz,
            release,
            modules,
            builtin,
        })
    }

    /// The `.ko` files to load for these modules, dependencies first (each module's
    /// `depends=` and `softdep=pre:` from its `.modinfo`; the package ships no
    /// `modules.dep`, which `depmod` writes at install time). Built-in modules are skipped.
    pub fn load_order(&self, wanted: &[String]) -> Result<Vec<PathBuf>, GuestError> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        for name in wanted {
            self.visit(
                &module_key(name),
                true,
                &mut done,
                &mut Vec::new(),
                &mut order,
            )?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        key: &str,
        required: bool,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
        order: &mut Vec<PathBuf>,
    ) -> Result<(), GuestError> {
        if done.contains(key) || self.builtin.contains(key) {
            return Ok(());
        }
        if path.iter().any(|p| p == key) {
            return Err(GuestError::Setup(format!(
                "module dependency cycle: {} -> {key}",
                path.join(" -> ")
            )));
        }
        let Some(file) = self.modules.get(key) else {
            if required {
                return Err(GuestError::Setup(format!(
                    "kernel {} has no module {key} (neither a .ko nor built in)",
                    self.release
                )));
            }
            // A soft dependency by alias (e.g. `crct10dif`): optional.
            return Ok(());
        };
        let info = modinfo(&read(file)?);
        path.push(key.to_owned());
        for dep in info.get("depends").into_iter().flat_map(|d| d.split(',')) {
            if !dep.is_empty() {
                self.visit(&module_key(dep), true, done, path, order)?;
            }
        }
        for soft in info.get("softdep").into_iter() {
            // "pre: a b post: c": only the pre part loads before.
            let pre = soft.split("post:").next().unwrap_or("");
            for dep in pre.trim().trim_start_matches("pre:").split_whitespace() {
                self.visit(&module_key(dep), false, done, path, order)?;
            }
        }
        path.pop();
        done.insert(key.to_owned());
        order.push(file.clone());
        Ok(())
    }
}

/// A module's name as the kernel compares it (dashes and underscores are the same).
fn module_key(name: &str) -> String {
    name.replace('-', "_")
}

/// The `key=value` strings of a module's `.modinfo` section that the loader order needs.
pub(super) fn modinfo(ko: &[u8]) -> BTreeMap<String, String> {
    let mut info = BTreeMap::new();
    for key in ["depends", "softdep"] {
        let needle = format!("\0{key}=");
        let mut from = 0;
        while let Some(at) = find(&ko[from..], needle.as_bytes()) {
            let start = from + at + needle.len();
            let end = ko[start..]
                .iter()
                .position(|b| *b == 0)
                .map_or(ko.len(), |e| start + e);
            let value = String::from_utf8_lossy(&ko[start..end]).into_owned();
            info.entry(key.to_owned())
                .and_modify(|v: &mut String| {
                    v.push(' ');
                    v.push_str(&value);
                })
                .or_insert(value);
            from = end;
        }
    }
    info
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The real package behind `linux-image-amd64` (e.g. `linux-image-6.1.0-57-amd64`).
fn kernel_package() -> Result<String, GuestError> {
    let text = command_output(Command::new("apt-cache").args(["depends", KERNEL_META]))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| GuestError::Missing {
            what: format!("the Debian package {KERNEL_META}"),
            install: "apt knows no kernel package: run `apt-get update` (Debian 12 sources)"
                .to_owned(),
        })
}
