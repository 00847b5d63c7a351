//! Guest memory: one region from address 0, backed by a memfd so that the vhost-user
//! backends (the daemon's disk service) can map it too, mapped in this process and given
//! to KVM.

use super::layout::MMIO_START;
use super::KvmError;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

/// Maps `size` bytes of guest memory, shareable, and registers every region with `vm`.
/// Memory stops below the device window (3 GiB), so more is refused for now.
pub fn create(vm: &VmFd, size: u64) -> Result<GuestMemoryMmap, KvmError> {
    if size == 0 || size > MMIO_START {
        return Err(KvmError::Memory(format!(
            "{size} bytes: a VM has between 1 byte and {} MiB of memory",
            MMIO_START >> 20
        )));
    }
    let len = usize::try_from(size).map_err(|_| KvmError::Memory(format!("{size} bytes")))?;
    let fd = rustix::fs::memfd_create("vsa-vm-memory", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| KvmError::Memory(format!("memfd_create: {e}")))?;
    let file = std::fs::File::from(fd);
    file.set_len(size)
        .map_err(|e| KvmError::Memory(format!("cannot size the memfd to {size} bytes: {e}")))?;
    let mem = GuestMemoryMmap::<()>::from_ranges_with_files([(
        GuestAddress(0),
        len,
        Some(FileOffset::new(file, 0)),
    )])
    .map_err(|e| KvmError::Memory(format!("cannot map {size} bytes: {e}")))?;
    for (slot, region) in mem.iter().enumerate() {
        let host = mem
            .get_host_address(region.start_addr())
            .map_err(|e| KvmError::Memory(e.to_string()))?;
        let r = kvm_userspace_memory_region {
            slot: slot as u32,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
            flags: 0,
        };
        // SAFETY: the region is a live mapping of `region.len()` bytes owned by `mem`,
        // which the caller keeps for as long as the VM runs (`run` holds both).
        #[allow(unsafe_code)]
        unsafe { vm.set_user_memory_region(r) }
            .map_err(|e| KvmError::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
    }
    Ok(mem)
}
