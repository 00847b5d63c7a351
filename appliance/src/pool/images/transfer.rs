//! [`Transfers`]: the import and export jobs, one at a time per volume.

use super::nbd::NbdClient;
use super::qemu::{self, NbdServer};
use crate::core::{ApiError, Claim, Core, ErrorCode, InUse};
use crate::pool::types::{ExportImageBody, ImportImageBody, TransferView};
use axum::http::StatusCode;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vsa_blockdev::{Allocation, BlockDevice};

/// Bytes moved per request.
const PIECE: u64 = 4 << 20;
/// How long one NBD request may take before the transfer fails.
const NBD_TIMEOUT: Duration = Duration::from_secs(120);

/// An image transfer that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file is not usable.
    #[error("{0}")]
    File(String),
    /// An unknown format.
    #[error("'{0}' is not an image format; use raw, qcow2, vmdk, vhd or vhdx")]
    Format(String),
    /// A transfer of this volume runs.
    #[error("volume '{0}' is being transferred already")]
    Busy(String),
    /// No transfer of this volume since the daemon started.
    #[error("no image transfer of volume '{0}' since the daemon started")]
    NoSuchTransfer(String),
    /// The volume is held.
    #[error(transparent)]
    InUse(#[from] InUse),
    /// The volume's owner refused.
    #[error(transparent)]
    Volume(ApiError),
}

impl ErrorCode for ImageError {
    fn code(&self) -> &'static str {
        match self {
            ImageError::File(_) => "invalid_image",
            ImageError::Format(_) => "invalid_format",
            ImageError::Busy(_) => "transfer_running",
            ImageError::NoSuchTransfer(_) => "no_such_transfer",
            ImageError::InUse(e) => e.code(),
            ImageError::Volume(e) => e.code,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ImageError::File(_) | ImageError::Format(_) => StatusCode::BAD_REQUEST,
            ImageError::Busy(_) => StatusCode::CONFLICT,
            ImageError::NoSuchTransfer(_) => StatusCode::NOT_FOUND,
            ImageError::InUse(e) => e.status(),
            ImageError::Volume(e) => e.status,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ImageError::InUse(e) => Some(format!(
                "{}; or export a clone: `vsa volume snapshot V s; vsa volume clone V@s copy`",
                e.hint().unwrap_or_default()
            )),
            ImageError::Busy(v) => Some(format!("`vsa volume transfers` shows it; wait for {v}")),
            _ => None,
        }
    }
}

/// The image transfers since the daemon started.
#[derive(Debug)]
pub struct Transfers {
    core: Arc<Core>,
    jobs: Mutex<BTreeMap<String, Arc<Mutex<TransferView>>>>,
}

/// What a transfer thread needs.
struct Job {
    core: Arc<Core>,
    view: Arc<Mutex<TransferView>>,
    file: PathBuf,
    driver: String,
    socket: PathBuf,
}

fn absolute_file(file: &str) -> Result<PathBuf, ImageError> {
    let p = PathBuf::from(file);
    if !p.is_absolute() {
        return Err(ImageError::File(format!(
            "{file} is a relative path; give the daemon an absolute one (the CLI does this for you)"
        )));
    }
    Ok(p)
}

fn driver_of(format: Option<&str>) -> Result<Option<&'static str>, ImageError> {
    format
        .map(|f| qemu::driver(f).ok_or_else(|| ImageError::Format(f.to_owned())))
        .transpose()
}

impl Transfers {
    /// None yet.
    pub fn new(core: Arc<Core>) -> Transfers {
        Transfers {
            core,
            jobs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every transfer since the daemon started.
    pub fn list(&self) -> Vec<TransferView> {
        self.jobs
            .lock()
            .values()
            .map(|j| j.lock().clone())
            .collect()
    }

    /// The last transfer of `volume`.
    pub fn show(&self, volume: &str) -> Result<TransferView, ImageError> {
        self.jobs
            .lock()
            .get(volume)
            .map(|j| j.lock().clone())
            .ok_or_else(|| ImageError::NoSuchTransfer(volume.to_owned()))
    }

    /// Registers a transfer of `volume` unless one runs.
    fn begin(&self, view: TransferView) -> Result<Arc<Mutex<TransferView>>, ImageError> {
        let mut jobs = self.jobs.lock();
        if jobs
            .get(&view.volume)
            .is_some_and(|j| j.lock().state == "running")
        {
            return Err(ImageError::Busy(view.volume));
        }
        let job = Arc::new(Mutex::new(view));
        jobs.insert(job.lock().volume.clone(), job.clone());
        Ok(job)
    }

    fn socket(&self, volume: &str) -> Result<PathBuf, ImageError> {
        let dir = self.core.data_dir().join("run");
        std::fs::create_dir_all(&dir)
            .map_err(|e| ImageError::File(format!("cannot create {}: {e}", dir.display())))?;
        let n: u64 = rand::random();
        let safe: String = volume
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        Ok(dir.join(format!("nbd-{safe}-{n:016x}.sock")))
    }

    fn claim(volume: &str, doing: &str, file: &Path) -> Claim {
        Claim {
            component: "pool",
            holder: format!("an image {doing} ({})", file.display()),
            release: format!("wait for it: `vsa volume transfers` shows its progress ({volume})"),
        }
    }

    /// Creates volume `b.name` from the image `b.file` and copies it in, in the background.
    pub fn import(&self, b: ImportImageBody) -> Result<TransferView, ImageError> {
        let file = absolute_file(&b.file)?;
        if !file.is_file() {
            return Err(ImageError::File(format!(
                "there is no file {}",
                file.display()
            )));
        }
        let info = qemu::info(&file, driver_of(b.format.as_deref())?).map_err(ImageError::File)?;
        // The volume holds whole 4 KiB blocks; the tail past the image reads as zeros.
        let size = info.virtual_size.div_ceil(4096) * 4096;
        let view = TransferView::new(
            "import",
            &b.name,
            &file,
            &qemu::format_name(&info.driver),
            size,
        );
        let job = self.begin(view)?;
        let started = self.start_import(&b, &file, size, &info.driver, job.clone());
        if let Err(e) = &started {
            let mut v = job.lock();
            v.state = "failed".into();
            v.error = Some(e.to_string());
        }
        started
    }

    fn start_import(
        &self,
        b: &ImportImageBody,
        file: &Path,
        size: u64,
        driver: &str,
        view: Arc<Mutex<TransferView>>,
    ) -> Result<TransferView, ImageError> {
        let volumes = self.core.volumes();
        volumes
            .create_thin(&b.name, size, b.pool.as_deref())
            .map_err(ImageError::Volume)?;
        if let Err(e) = self
            .core
            .claims()
            .claim(&b.name, Self::claim(&b.name, "import", file))
        {
            let _ = volumes.delete(&b.name);
            return Err(e.into());
        }
        let job = Job {
            core: self.core.clone(),
            view: view.clone(),
            file: file.to_owned(),
            driver: driver.to_owned(),
            socket: self.socket(&b.name)?,
        };
        spawn(job, run_import);
        let v = view.lock().clone();
        Ok(v)
    }

    /// Writes volume `volume` into a new image file, in the background.
    pub fn export(&self, b: ExportImageBody) -> Result<TransferView, ImageError> {
        let volume = b.volume.as_str();
        let file = absolute_file(&b.file)?;
        let driver = driver_of(Some(&b.format))?.unwrap_or("raw");
        if file.symlink_metadata().is_ok() {
            return Err(ImageError::File(format!(
                "{} exists; the export makes a new file (remove it or pick another name)",
                file.display()
            )));
        }
        if !file.parent().is_some_and(Path::is_dir) {
            return Err(ImageError::File(format!(
                "the directory of {} does not exist",
                file.display()
            )));
        }
        let opened = self
            .core
            .volumes()
            .open(volume)
            .map_err(ImageError::Volume)?;
        let size = opened.device.size();
        let view = TransferView::new("export", volume, &file, &qemu::format_name(driver), size);
        let job_view = self.begin(view)?;
        let fail = |e: ImageError| {
            let mut v = job_view.lock();
            v.state = "failed".into();
            v.error = Some(e.to_string());
            e
        };
        self.core
            .claims()
            .claim(volume, Self::claim(volume, "export", &file))
            .map_err(|e| fail(e.into()))?;
        let job = Job {
            core: self.core.clone(),
            view: job_view.clone(),
            file,
            driver: driver.to_owned(),
            socket: self.socket(volume).map_err(fail)?,
        };
        spawn(job, move |j| run_export(j, opened.device));
        let v = job_view.lock().clone();
        Ok(v)
    }
}

fn spawn(job: Job, work: impl FnOnce(&Job) -> Result<(), String> + Send + 'static) {
    let (view, core) = (job.view.clone(), job.core.clone());
    let volume = view.lock().volume.clone();
    let thread = std::thread::Builder::new()
        .name(format!("image {volume}"))
        .spawn(move || {
            let result = work(&job);
            finish(&job.core, &job.view, result);
        });
    if let Err(e) = thread {
        finish(
            &core,
            &view,
            Err(format!("cannot start a transfer thread: {e}")),
        );
    }
}

/// Releases the volume and records how the transfer ended.
fn finish(core: &Core, view: &Mutex<TransferView>, result: Result<(), String>) {
    let mut v = view.lock();
    core.claims().release(&v.volume, "pool");
    match result {
        Ok(()) => {
            v.state = "finished".into();
            v.done = v.total;
            tracing::info!(
                volume = v.volume.as_str(),
                file = v.file.as_str(),
                "image {} finished",
                v.direction
            );
        }
        Err(e) => {
            tracing::error!(
                volume = v.volume.as_str(),
                file = v.file.as_str(),
                "image {} failed: {e}",
                v.direction
            );
            v.state = "failed".into();
            v.error = Some(e);
        }
    }
}

/// Copies the image into the new volume; on failure deletes the volume.
fn run_import(job: &Job) -> Result<(), String> {
    let volume = job.view.lock().volume.clone();
    let copied = import_bytes(job, &volume);
    if copied.is_err() {
        job.core.claims().release(&volume, "pool");
        if let Err(e) = job.core.volumes().delete(&volume) {
            tracing::error!(
                volume = volume.as_str(),
                "cannot delete the volume of a failed import: {e}"
            );
        }
    }
    copied
}

fn import_bytes(job: &Job, volume: &str) -> Result<(), String> {
    let device = job
        .core
        .volumes()
        .open(volume)
        .map_err(|e| e.to_string())?
        .device;
    let server = NbdServer::start(&job.file, &job.driver, false, &job.socket)?;
    let mut nbd = NbdClient::connect(server.socket(), NBD_TIMEOUT).map_err(|e| e.to_string())?;
    let image_size = nbd.size();
    let mut buf = vec![0u8; PIECE as usize];
    let mut at = 0;
    while at < image_size {
        let n = PIECE.min(image_size - at) as usize;
        nbd.read(at, &mut buf[..n]).map_err(|e| e.to_string())?;
        if buf[..n].iter().any(|&b| b != 0) {
            // The last piece may end inside a block: the rest of it is zeros already.
            let whole = (n as u64).div_ceil(u64::from(device.block_size()))
                * u64::from(device.block_size());
            let whole = whole as usize;
            buf[n..whole].fill(0);
            device
                .write_at(&buf[..whole], at)
                .map_err(|e| e.to_string())?;
        }
        at += n as u64;
        job.view.lock().done = at;
    }
    device.flush().map_err(|e| e.to_string())?;
    let _ = nbd.disconnect();
    server.stop()
}

/// Writes the volume into a new image; on failure removes the file.
fn run_export(job: &Job, device: Arc<dyn BlockDevice>) -> Result<(), String> {
    let done = export_bytes(job, device.as_ref());
    if done.is_err() {
        let _ = std::fs::remove_file(&job.file);
    }
    done
}

fn export_bytes(job: &Job, device: &dyn BlockDevice) -> Result<(), String> {
    let size = device.size();
    qemu::create(&job.file, &job.driver, size)?;
    let server = NbdServer::start(&job.file, &job.driver, true, &job.socket)?;
    let mut nbd = NbdClient::connect(server.socket(), NBD_TIMEOUT).map_err(|e| e.to_string())?;
    if nbd.read_only() || nbd.size() < size {
        return Err(format!(
            "qemu-nbd serves {} bytes, read-only {}",
            nbd.size(),
            nbd.read_only()
        ));
    }
    let mut buf = vec![0u8; PIECE as usize];
    let mut at = 0;
    while at < size {
        let n = PIECE.min(size - at);
        let mapped = device
            .allocation(at, n)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|x| x.status == Allocation::Mapped);
        if mapped {
            let b = &mut buf[..n as usize];
            // Read once: an export streams the whole volume past the pool's read cache,
            // which keeps the blocks of the volumes in use.
            device.read_once_at(b, at).map_err(|e| e.to_string())?;
            if b.iter().any(|&x| x != 0) {
                nbd.write(at, b).map_err(|e| e.to_string())?;
            }
        }
        at += n;
        job.view.lock().done = at;
    }
    nbd.flush().map_err(|e| e.to_string())?;
    let _ = nbd.disconnect();
    server.stop()
}
