//! Guest memory: one region from address 0, mapped in this process and given to KVM.

use super::KvmError;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

/// Maps `size` bytes of guest memory and registers every region with `vm`.
pub fn create(vm: &VmFd, size: u64) -> Result<GuestMemoryMmap, KvmError> {
    let len = usize::try_from(size).map_err(|_| KvmError::Memory(format!("{size} bytes")))?;
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), len)])
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
        // which the caller keeps for as long as the VM runs (the Vm holds both).
        #[allow(unsafe_code)]
        unsafe { vm.set_user_memory_region(r) }
            .map_err(|e| KvmError::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
    }
    Ok(mem)
}
