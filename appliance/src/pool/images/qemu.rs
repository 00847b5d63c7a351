//! The qemu tools that know image formats: `qemu-img info` and `qemu-img create`, and
//! `qemu-nbd` serving one image on a Unix socket for the transfer (Debian `qemu-utils`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The formats people name, and qemu's driver for each.
pub const FORMATS: &[(&str, &str)] = &[
    ("raw", "raw"),
    ("qcow2", "qcow2"),
    ("vmdk", "vmdk"),
    ("vhd", "vpc"),
    ("vhdx", "vhdx"),
];

/// qemu's driver for a format people name (`vhd` is qemu's `vpc`).
pub fn driver(format: &str) -> Option<&'static str> {
    FORMATS
        .iter()
        .find(|(name, drv)| *name == format || *drv == format)
        .map(|(_, drv)| *drv)
}

/// The name people use for a qemu driver.
pub fn format_name(driver: &str) -> String {
    FORMATS
        .iter()
        .find(|(_, drv)| *drv == driver)
        .map_or_else(|| driver.to_owned(), |(name, _)| (*name).to_owned())
}

/// What `qemu-img info` says of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// qemu's driver for it.
    pub driver: String,
    /// The disk's size as a guest sees it.
    pub virtual_size: u64,
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e} (install Debian's qemu-utils)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{what}: {}", err.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `qemu-img info` of `file`, probing its format unless `driver` names one.
pub fn info(file: &Path, driver: Option<&str>) -> Result<ImageInfo, String> {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["info", "--output=json"]);
    if let Some(d) = driver {
        cmd.args(["-f", d]);
    }
    let text = run(cmd.arg(file), "qemu-img info")?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("qemu-img info said no JSON: {e}"))?;
    let driver = v["format"]
        .as_str()
        .ok_or("qemu-img info named no format")?
        .to_owned();
    let virtual_size = v["virtual-size"]
        .as_u64()
        .ok_or("qemu-img info gave no virtual size")?;
    Ok(ImageInfo {
        driver,
        virtual_size,
    })
}

/// `qemu-img create`: a new, empty image of `size` bytes.
pub fn create(file: &Path, driver: &str, size: u64) -> Result<(), String> {
    run(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", driver])
            .arg(file)
            .arg(size.to_string()),
        "qemu-img create",
    )
    .map(|_| ())
}

/// A `qemu-nbd` serving one image; killed when dropped.
#[derive(Debug)]
pub struct NbdServer {
    child: Child,
    socket: PathBuf,
}

impl NbdServer {
    /// Starts `qemu-nbd` on `file` with a socket at `socket`, and waits (up to a minute)
    /// until it accepts connections.
    pub fn start(
        file: &Path,
        driver: &str,
        writable: bool,
        socket: &Path,
    ) -> Result<NbdServer, String> {
        let _ = std::fs::remove_file(socket);
        let mut cmd = Command::new("qemu-nbd");
        cmd.arg(format!("--socket={}", socket.display()))
            .arg(format!("--format={driver}"))
            // The default cache (writeback, no O_DIRECT: images on tmpfs work); the
            // export's NBD FLUSH makes the image durable before qemu-nbd is stopped.
            // Serve until told to stop: the readiness probe below is a client too.
            .arg("--persistent");
        if !writable {
            cmd.arg("--read-only");
        }
        let child = cmd
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run qemu-nbd: {e} (install Debian's qemu-utils)"))?;
        let mut server = NbdServer {
            child,
            socket: socket.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = server.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!("qemu-nbd exited ({status}): {}", err.trim()));
            }
            if Instant::now() >= deadline {
                return Err("qemu-nbd did not listen within a minute".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The socket it serves on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl NbdServer {
    /// Stops it cleanly (SIGTERM: qemu-nbd closes the image, writing what its format
    /// keeps in memory), waiting up to a minute; a clean exit is required for an image
    /// that was written.
    pub fn stop(mut self) -> Result<(), String> {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32)
            .ok_or("qemu-nbd has no process id")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| format!("cannot stop qemu-nbd: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) if st.success() || st.signal_is_term() => return Ok(()),
                Ok(Some(st)) => return Err(format!("qemu-nbd exited with {st}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => return Err("qemu-nbd did not stop within a minute".into()),
                Err(e) => return Err(format!("waiting for qemu-nbd: {e}")),
            }
        }
    }
}

trait TermStatus {
    fn signal_is_term(&self) -> bool;
}

impl TermStatus for std::process::ExitStatus {
    fn signal_is_term(&self) -> bool {
        std::os::unix::process::ExitStatusExt::signal(self) == Some(15)
    }
}

impl Drop for NbdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}
