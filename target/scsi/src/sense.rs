//! Sense data (SPC-4 4.4): what went wrong, as a sense key with additional sense code and
//! qualifier, optionally the INFORMATION field and a sense-key-specific field pointer, in
//! fixed (70h) or descriptor (72h) format.
//!
//! Every error in this crate becomes a [`Sense`] here, through the named constructors, so
//! the table of "which condition gets which ASC/ASCQ" lives in one place.

use vsa_blockdev::{BlockError, ErrorKind};

/// Sense keys (SPC-4 table 48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SenseKey {
    NoSense = 0x0,
    RecoveredError = 0x1,
    NotReady = 0x2,
    MediumError = 0x3,
    HardwareError = 0x4,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    BlankCheck = 0x8,
    VendorSpecific = 0x9,
    CopyAborted = 0xA,
    AbortedCommand = 0xB,
    VolumeOverflow = 0xD,
    Miscompare = 0xE,
}

/// Sense-key-specific field pointer (SPC-4 4.4.2.4.2): which byte (and bit) of the CDB or
/// parameter list was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldPointer {
    /// True: the field is in the CDB (C/D = 1); false: in the parameter data.
    pub in_cdb: bool,
    /// Byte offset of the field.
    pub byte: u16,
    /// Bit of the field's most significant bit, if one is named (BPV = 1).
    pub bit: Option<u8>,
}

/// One piece of sense data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sense {
    pub key: SenseKey,
    pub asc: u8,
    pub ascq: u8,
    /// The INFORMATION field (for example the first LBA in error, or the miscompare offset).
    pub information: Option<u64>,
    /// Sense-key-specific field pointer for ILLEGAL REQUEST.
    pub field: Option<FieldPointer>,
    /// The ILI bit (incorrect length indicator; tape).
    pub ili: bool,
    /// The FILEMARK and EOM bits (tape).
    pub filemark: bool,
    pub eom: bool,
    /// Sense-key-specific progress indication (SPC-4 4.4.2.4.4): how far an operation in
    /// progress has come, in 65536ths; used when there is no field pointer.
    pub progress: Option<u16>,
    /// A deferred error (SPC-4 4.4.2.5, response code 71h/73h): it belongs to an earlier
    /// command that completed GOOD (a buffered write), not to the one it is returned for,
    /// which was not performed.
    pub deferred: bool,
}

impl Sense {
    /// Sense with a key and ASC/ASCQ and nothing else.
    pub const fn new(key: SenseKey, asc: u8, ascq: u8) -> Self {
        Self {
            key,
            asc,
            ascq,
            information: None,
            field: None,
            ili: false,
            filemark: false,
            eom: false,
            progress: None,
            deferred: false,
        }
    }

    /// Makes it a deferred error.
    pub fn deferred(mut self) -> Self {
        self.deferred = true;
        self
    }

    /// Sets the progress indication (`done` of 65536).
    pub fn with_progress(mut self, done: u16) -> Self {
        self.progress = Some(done);
        self
    }

    /// Sets the INFORMATION field.
    pub fn with_information(mut self, information: u64) -> Self {
        self.information = Some(information);
        self
    }

    /// Sets the INFORMATION field to a signed residual (SSC-4: requested minus actual,
    /// negative when a block was longer than asked for), sign-extended to 64 bits.
    pub fn with_residual(mut self, residual: i64) -> Self {
        self.information = Some(residual as u64);
        self
    }

    /// ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at `byte` (and `bit`, if given).
    pub fn invalid_field_in_cdb(byte: u16, bit: Option<u8>) -> Self {
        let mut s = Self::new(SenseKey::IllegalRequest, 0x24, 0x00);
        s.field = Some(FieldPointer {
            in_cdb: true,
            byte,
            bit,
        });
        s
    }

    /// ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing at `byte` of the data.
    pub fn invalid_field_in_param(byte: u16, bit: Option<u8>) -> Self {
        let mut s = Self::new(SenseKey::IllegalRequest, 0x26, 0x00);
        s.field = Some(FieldPointer {
            in_cdb: false,
            byte,
            bit,
        });
        s
    }

    /// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
    pub fn invalid_opcode() -> Self {
        let mut s = Self::new(SenseKey::IllegalRequest, 0x20, 0x00);
        s.field = Some(FieldPointer {
            in_cdb: true,
            byte: 0,
            bit: Some(7),
        });
        s
    }

    /// ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub fn lba_out_of_range() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x21, 0x00)
    }

    /// ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR.
    pub fn param_list_length_error() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x1A, 0x00)
    }

    /// ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED.
    pub fn lun_not_supported() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x25, 0x00)
    }

    /// DATA PROTECT, WRITE PROTECTED.
    pub fn write_protected() -> Self {
        Self::new(SenseKey::DataProtect, 0x27, 0x00)
    }

    /// DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (thin pool exhausted).
    pub fn space_allocation_failed() -> Self {
        Self::new(SenseKey::DataProtect, 0x27, 0x07)
    }

    /// UNIT ATTENTION, THIN PROVISIONING SOFT THRESHOLD REACHED.
    pub fn soft_threshold_reached() -> Self {
        Self::new(SenseKey::UnitAttention, 0x38, 0x07)
    }

    /// MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, with the offset of the first
    /// differing byte in INFORMATION.
    pub fn miscompare(offset: u64) -> Self {
        Self::new(SenseKey::Miscompare, 0x1D, 0x00).with_information(offset)
    }

    /// MEDIUM ERROR, UNRECOVERED READ ERROR at `lba`.
    pub fn unrecovered_read(lba: u64) -> Self {
        Self::new(SenseKey::MediumError, 0x11, 0x00).with_information(lba)
    }

    /// MEDIUM ERROR, WRITE ERROR at `lba`.
    pub fn write_error(lba: u64) -> Self {
        Self::new(SenseKey::MediumError, 0x0C, 0x00).with_information(lba)
    }

    /// HARDWARE ERROR, INTERNAL TARGET FAILURE.
    pub fn internal_failure() -> Self {
        Self::new(SenseKey::HardwareError, 0x44, 0x00)
    }

    /// NOT READY, MEDIUM NOT PRESENT.
    pub fn medium_not_present() -> Self {
        Self::new(SenseKey::NotReady, 0x3A, 0x00)
    }

    /// UNIT ATTENTION, CAPACITY DATA HAS CHANGED (the volume was resized).
    pub fn capacity_changed() -> Self {
        Self::new(SenseKey::UnitAttention, 0x2A, 0x09)
    }

    /// NOT READY, LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS.
    pub fn sanitize_in_progress() -> Self {
        Self::new(SenseKey::NotReady, 0x04, 0x1B)
    }

    /// MEDIUM ERROR, SANITIZE COMMAND FAILED (the unit is in sanitize failure mode).
    pub fn sanitize_failed() -> Self {
        Self::new(SenseKey::MediumError, 0x31, 0x03)
    }

    /// ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED.
    pub fn removal_prevented() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x53, 0x02)
    }

    /// ILLEGAL REQUEST, INVALID FIELD IN INFORMATION UNIT (data-out that ends inside a
    /// logical block).
    pub fn invalid_field_in_iu() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x0E, 0x03)
    }

    /// ILLEGAL REQUEST, TOO MANY TARGET DESCRIPTORS (EXTENDED COPY CSCD descriptors).
    pub fn too_many_cscd_descriptors() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x26, 0x06)
    }

    /// ILLEGAL REQUEST, UNSUPPORTED TARGET DESCRIPTOR TYPE CODE (EXTENDED COPY).
    pub fn unsupported_cscd_type(byte: u16) -> Self {
        let mut s = Self::new(SenseKey::IllegalRequest, 0x26, 0x07);
        s.field = Some(FieldPointer {
            in_cdb: false,
            byte,
            bit: None,
        });
        s
    }

    /// ILLEGAL REQUEST, TOO MANY SEGMENT DESCRIPTORS (EXTENDED COPY).
    pub fn too_many_segment_descriptors() -> Self {
        Self::new(SenseKey::IllegalRequest, 0x26, 0x08)
    }

    /// ILLEGAL REQUEST, UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE (EXTENDED COPY).
    pub fn unsupported_segment_type(byte: u16) -> Self {
        let mut s = Self::new(SenseKey::IllegalRequest, 0x26, 0x09);
        s.field = Some(FieldPointer {
            in_cdb: false,
            byte,
            bit: None,
        });
        s
    }

    /// COPY ABORTED, UNREACHABLE COPY TARGET (a segment names a CSCD descriptor that does
    /// not exist, or whose logical unit the copy manager cannot find).
    pub fn copy_target_unreachable() -> Self {
        Self::new(SenseKey::CopyAborted, 0x08, 0x04)
    }

    /// COPY ABORTED, NO ADDITIONAL SENSE INFORMATION (a segment failed on its copy
    /// target, for example with a range past the end of that logical unit).
    pub fn copy_aborted() -> Self {
        Self::new(SenseKey::CopyAborted, 0x00, 0x00)
    }

    /// The sense for a failed block-device operation; `lba` is the first block of the
    /// command, for the INFORMATION field.
    pub fn from_block_error(err: &BlockError, lba: u64, write: bool) -> Self {
        match err.kind() {
            ErrorKind::SpaceExhausted => Self::space_allocation_failed(),
            ErrorKind::ReadOnly => Self::write_protected(),
            ErrorKind::OutOfRange => Self::lba_out_of_range(),
            ErrorKind::Misaligned | ErrorKind::InvalidArgument => {
                Self::invalid_field_in_cdb(2, None)
            }
            ErrorKind::Unsupported => Self::invalid_opcode(),
            ErrorKind::Corrupt | ErrorKind::Io | ErrorKind::DeviceFailed if write => {
                Self::write_error(lba)
            }
            ErrorKind::Corrupt | ErrorKind::Io | ErrorKind::DeviceFailed => {
                Self::unrecovered_read(lba)
            }
            _ => Self::internal_failure(),
        }
    }

    /// Encodes in fixed format (response code 70h, 18 bytes) or descriptor format (72h,
    /// with an information descriptor and a sense-key-specific descriptor as needed).
    pub fn encode(&self, descriptor: bool) -> Vec<u8> {
        if descriptor {
            self.encode_descriptor()
        } else {
            self.encode_fixed()
        }
    }

    fn sks(&self) -> Option<[u8; 3]> {
        let Some(f) = self.field else {
            let [hi, lo] = self.progress?.to_be_bytes();
            return Some([0x80, hi, lo]);
        };
        let mut b0 = 0x80u8; // SKSV
        if f.in_cdb {
            b0 |= 0x40;
        }
        if let Some(bit) = f.bit {
            b0 |= 0x08 | (bit & 0x07);
        }
        let [hi, lo] = f.byte.to_be_bytes();
        Some([b0, hi, lo])
    }

    fn encode_fixed(&self) -> Vec<u8> {
        let mut s = vec![0u8; 18];
        s[0] = if self.deferred { 0x71 } else { 0x70 };
        s[2] = self.key as u8;
        if self.filemark {
            s[2] |= 0x80;
        }
        if self.eom {
            s[2] |= 0x40;
        }
        if self.ili {
            s[2] |= 0x20;
        }
        if let Some(info) = self.information {
            // The fixed format has 4 bytes of INFORMATION; VALID only when it fits, as an
            // unsigned number or as a negative residual in two's complement (SSC-4: a
            // block longer than the READ asked for).
            let negative = i32::try_from(info as i64).is_ok_and(|v| v < 0);
            if let Ok(v) = u32::try_from(info) {
                s[0] |= 0x80;
                s[3..7].copy_from_slice(&v.to_be_bytes());
            } else if negative {
                s[0] |= 0x80;
                s[3..7].copy_from_slice(&(info as u32).to_be_bytes());
            }
        }
        s[7] = 10; // additional sense length
        s[12] = self.asc;
        s[13] = self.ascq;
        if let Some(sks) = self.sks() {
            s[15..18].copy_from_slice(&sks);
        }
        s
    }

    fn encode_descriptor(&self) -> Vec<u8> {
        let mut s = vec![0u8; 8];
        s[0] = if self.deferred { 0x73 } else { 0x72 };
        s[1] = self.key as u8;
        s[2] = self.asc;
        s[3] = self.ascq;
        if let Some(info) = self.information {
            s.extend_from_slice(&[0x00, 0x0A, 0x80, 0x00]);
            s.extend_from_slice(&info.to_be_bytes());
        }
        if let Some(sks) = self.sks() {
            s.extend_from_slice(&[0x02, 0x06, 0x00, 0x00]);
            s.extend_from_slice(&sks);
            s.push(0);
        }
        if self.filemark || self.eom || self.ili {
            let mut b = 0u8;
            if self.filemark {
                b |= 0x80;
            }
            if self.eom {
                b |= 0x40;
            }
            if self.ili {
                b |= 0x20;
            }
            s.extend_from_slice(&[0x04, 0x02, 0x00, b]);
        }
        s[7] = (s.len() - 8) as u8;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_error_has_its_own_response_codes() {
        let s = Sense::new(SenseKey::MediumError, 0x0C, 0x00)
            .with_information(3)
            .deferred();
        let f = s.encode(false);
        assert_eq!(f[0], 0x80 | 0x71, "VALID and deferred, fixed format");
        assert_eq!(f[2], 0x03);
        assert_eq!(&f[3..7], &[0, 0, 0, 3]);
        assert_eq!((f[12], f[13]), (0x0C, 0x00));
        let d = s.encode(true);
        assert_eq!(d[0], 0x73);
        assert_eq!((d[1], d[2], d[3]), (0x03, 0x0C, 0x00));
        assert_eq!(
            Sense::new(SenseKey::MediumError, 0x0C, 0).encode(false)[0],
            0x70
        );
    }

    #[test]
    fn fixed_format_carries_key_codes_and_pointer() {
        let s = Sense::invalid_field_in_cdb(1, Some(4)).encode(false);
        assert_eq!(s.len(), 18);
        assert_eq!(s[0], 0x70);
        assert_eq!(s[2], 0x05);
        assert_eq!((s[12], s[13]), (0x24, 0x00));
        assert_eq!(s[15], 0x80 | 0x40 | 0x08 | 4);
        assert_eq!((s[16], s[17]), (0, 1));
    }

    #[test]
    fn descriptor_format_carries_information() {
        let s = Sense::miscompare(0x0001_2345_6789).encode(true);
        assert_eq!(s[0], 0x72);
        assert_eq!(s[1], 0x0E);
        assert_eq!(s[7] as usize, s.len() - 8);
        assert_eq!(s[8], 0x00);
        assert_eq!(&s[12..20], &0x0001_2345_6789_u64.to_be_bytes());
    }

    #[test]
    fn progress_indication_in_both_formats() {
        let s = Sense::sanitize_in_progress().with_progress(0x4000);
        let f = s.encode(false);
        assert_eq!((f[2], f[12], f[13]), (0x02, 0x04, 0x1B));
        assert_eq!(&f[15..18], &[0x80, 0x40, 0x00]);
        let d = s.encode(true);
        assert_eq!(&d[8..16], &[0x02, 0x06, 0x00, 0x00, 0x80, 0x40, 0x00, 0x00]);
        assert_eq!(d[7], 8);
        // Without progress and field pointer there is no sense-key-specific data.
        assert_eq!(
            &Sense::sanitize_in_progress().encode(false)[15..18],
            &[0, 0, 0]
        );
    }

    #[test]
    fn negative_residuals_fit_both_formats() {
        let s = Sense::new(SenseKey::NoSense, 0, 0).with_residual(-4);
        let f = s.encode(false);
        assert_eq!((f[0], &f[3..7]), (0xF0, &[0xFF, 0xFF, 0xFF, 0xFC][..]));
        let d = s.encode(true);
        assert_eq!(&d[12..20], &(-4i64).to_be_bytes());
    }

    #[test]
    fn fixed_format_drops_information_that_does_not_fit() {
        let s = Sense::miscompare(1 << 40).encode(false);
        assert_eq!(s[0], 0x70);
    }
}
