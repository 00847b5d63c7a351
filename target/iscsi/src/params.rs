//! Login/text keys (RFC 7143 section 13): their types, ranges and negotiation rules, and
//! the parameters a session ends up with.
//!
//! The target answers every key the initiator offers: with the negotiated value, with
//! `NotUnderstood` for keys it does not know, `Irrelevant` where a key does not apply
//! (for instance data keys in a discovery session) and `Reject` for malformed or
//! out-of-range values.

use crate::text;

/// How a key's result is computed from both sides' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Declared by one side; no negotiation (the target answers nothing unless noted).
    Declarative,
    /// Boolean, result is `Yes` if either side says `Yes`.
    Or,
    /// Boolean, result is `Yes` only if both say `Yes`.
    And,
    /// Number in `lo..=hi`; result is the smaller value.
    Min(u32, u32),
    /// Number in `lo..=hi`; result is the larger value.
    Max(u32, u32),
    /// A list; the target picks the first value it supports.
    List,
}

/// One key the target knows.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub rule: Rule,
    /// Leading-only / session-wide: only meaningful for normal sessions' data phase.
    pub normal_only: bool,
}

/// Every key of RFC 7143 section 13 (plus RFC 7144's level key) that the target accepts
/// in the operational stage.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        name: "HeaderDigest",
        rule: Rule::List,
        normal_only: false,
    },
    KeyDef {
        name: "DataDigest",
        rule: Rule::List,
        normal_only: false,
    },
    KeyDef {
        name: "MaxConnections",
        rule: Rule::Min(1, 65535),
        normal_only: true,
    },
    KeyDef {
        name: "InitialR2T",
        rule: Rule::Or,
        normal_only: true,
    },
    KeyDef {
        name: "ImmediateData",
        rule: Rule::And,
        normal_only: true,
    },
    KeyDef {
        name: "MaxRecvDataSegmentLength",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "MaxBurstLength",
        rule: Rule::Min(512, 16_777_215),
        normal_only: true,
    },
    KeyDef {
        name: "FirstBurstLength",
        rule: Rule::Min(512, 16_777_215),
        normal_only: true,
    },
    KeyDef {
        name: "DefaultTime2Wait",
        rule: Rule::Max(0, 3600),
        normal_only: false,
    },
    KeyDef {
        name: "DefaultTime2Retain",
        rule: Rule::Min(0, 3600),
        normal_only: false,
    },
    KeyDef {
        name: "MaxOutstandingR2T",
        rule: Rule::Min(1, 65535),
        normal_only: true,
    },
    KeyDef {
        name: "DataPDUInOrder",
        rule: Rule::Or,
        normal_only: true,
    },
    KeyDef {
        name: "DataSequenceInOrder",
        rule: Rule::Or,
        normal_only: true,
    },
    KeyDef {
        name: "ErrorRecoveryLevel",
        rule: Rule::Min(0, 2),
        normal_only: false,
    },
    KeyDef {
        name: "IFMarker",
        rule: Rule::And,
        normal_only: false,
    },
    KeyDef {
        name: "OFMarker",
        rule: Rule::And,
        normal_only: false,
    },
    KeyDef {
        name: "IFMarkInt",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "OFMarkInt",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "iSCSIProtocolLevel",
        rule: Rule::Min(0, 31),
        normal_only: false,
    },
    KeyDef {
        name: "TaskReporting",
        rule: Rule::List,
        normal_only: true,
    },
    KeyDef {
        name: "InitiatorName",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "InitiatorAlias",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "TargetName",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "SessionType",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "AuthMethod",
        rule: Rule::List,
        normal_only: false,
    },
    // Declared by the target only; an initiator sending them gets them ignored.
    KeyDef {
        name: "TargetAlias",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "TargetAddress",
        rule: Rule::Declarative,
        normal_only: false,
    },
    KeyDef {
        name: "TargetPortalGroupTag",
        rule: Rule::Declarative,
        normal_only: false,
    },
    // Text requests only (full feature phase); see `discovery`.
    KeyDef {
        name: "SendTargets",
        rule: Rule::Declarative,
        normal_only: false,
    },
];

/// Looks a key up.
pub fn key(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// What the target is willing to do (its side of every negotiation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLimits {
    pub max_recv_data_segment_length: u32,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub max_outstanding_r2t: u32,
    pub immediate_data: bool,
    pub initial_r2t: bool,
    /// Offer CRC32C when the initiator asks for it.
    pub allow_digests: bool,
    pub default_time2wait: u32,
    pub default_time2retain: u32,
}

impl Default for TargetLimits {
    fn default() -> Self {
        Self {
            max_recv_data_segment_length: 262_144,
            max_burst_length: 1_048_576,
            // A WRITE of up to 256 KiB (a tape block, a large disk write) comes whole with
            // its command: no R2T round trip, no copy of the data into one buffer. The
            // target solicits the rest of every write at once anyway, so unsolicited data
            // holds no more memory than solicited.
            first_burst_length: 262_144,
            max_outstanding_r2t: 1,
            immediate_data: true,
            initial_r2t: false,
            allow_digests: true,
            default_time2wait: 2,
            default_time2retain: 0,
        }
    }
}

/// Negotiated operational parameters of a session/connection (RFC 7143 defaults until
/// changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    pub header_digest: bool,
    pub data_digest: bool,
    pub max_connections: u32,
    pub initial_r2t: bool,
    pub immediate_data: bool,
    /// What the initiator accepts per PDU (target → initiator data segments).
    pub initiator_mrdsl: u32,
    /// What the target accepts per PDU (initiator → target data segments).
    pub target_mrdsl: u32,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub default_time2wait: u32,
    pub default_time2retain: u32,
    pub max_outstanding_r2t: u32,
    pub data_pdu_in_order: bool,
    pub data_sequence_in_order: bool,
    pub error_recovery_level: u32,
}

impl Default for SessionParams {
    fn default() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            initiator_mrdsl: 8192,
            target_mrdsl: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    }
}

/// Parses an iSCSI numeric value (decimal or `0x` hex, see [`text::number`]) that fits
/// in 32 bits, as every key the target negotiates does.
pub fn parse_number(v: &str) -> Option<u32> {
    text::number(v).and_then(|n| u32::try_from(n).ok())
}

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.to_string()
}

/// The answer for one key.
pub type Answer = Option<String>;

impl SessionParams {
    /// Negotiates one operational key offered by the initiator, updating `self`, and
    /// returns the value to answer (`None`: nothing to answer). `discovery` marks keys
    /// that do not apply as `Irrelevant`.
    pub fn negotiate(
        &mut self,
        name: &str,
        value: &str,
        lim: &TargetLimits,
        discovery: bool,
    ) -> Answer {
        let Some(def) = key(name) else {
            return Some("NotUnderstood".into());
        };
        if discovery && def.normal_only {
            return Some("Irrelevant".into());
        }
        let reject = || Some("Reject".to_string());
        match def.rule {
            Rule::Or | Rule::And => {
                let Some(b) = text::boolean(value) else {
                    return reject();
                };
                let result = match name {
                    "InitialR2T" => {
                        self.initial_r2t = b || lim.initial_r2t;
                        self.initial_r2t
                    }
                    "ImmediateData" => {
                        self.immediate_data = b && lim.immediate_data;
                        self.immediate_data
                    }
                    "DataPDUInOrder" => {
                        self.data_pdu_in_order = true;
                        true
                    }
                    "DataSequenceInOrder" => {
                        self.data_sequence_in_order = true;
                        true
                    }
                    // Markers are not supported.
                    _ => false,
                };
                Some(yes_no(result))
            }
            Rule::Min(lo, hi) | Rule::Max(lo, hi) => {
                let Some(n) = parse_number(value).filter(|n| (lo..=hi).contains(n)) else {
                    return reject();
                };
                let pick = |ours: u32| match def.rule {
                    Rule::Max(..) => n.max(ours),
                    _ => n.min(ours),
                };
                let r = match name {
                    "MaxConnections" => {
                        self.max_connections = pick(1);
                        self.max_connections
                    }
                    "MaxBurstLength" => {
                        self.max_burst_length = pick(lim.max_burst_length);
                        self.max_burst_length
                    }
                    "FirstBurstLength" => {
                        self.first_burst_length = pick(lim.first_burst_length);
                        self.first_burst_length
                    }
                    "DefaultTime2Wait" => {
                        self.default_time2wait = pick(lim.default_time2wait);
                        self.default_time2wait
                    }
                    "DefaultTime2Retain" => {
                        self.default_time2retain = pick(lim.default_time2retain);
                        self.default_time2retain
                    }
                    "MaxOutstandingR2T" => {
                        self.max_outstanding_r2t = pick(lim.max_outstanding_r2t);
                        self.max_outstanding_r2t
                    }
                    "ErrorRecoveryLevel" => {
                        self.error_recovery_level = pick(0);
                        self.error_recovery_level
                    }
                    // iSCSIProtocolLevel: RFC 7143 is level 1.
                    _ => pick(1),
                };
                Some(r.to_string())
            }
            Rule::List => match name {
                "HeaderDigest" | "DataDigest" => {
                    let pick = text::list(value).into_iter().find(|v| match *v {
                        "None" => true,
                        "CRC32C" => lim.allow_digests,
                        _ => false,
                    });
                    let Some(pick) = pick else { return reject() };
                    let on = pick == "CRC32C";
                    if name == "HeaderDigest" {
                        self.header_digest = on;
                    } else {
                        self.data_digest = on;
                    }
                    Some(pick.to_string())
                }
                // TaskReporting: only the RFC 3720 semantics.
                "TaskReporting" => Some("RFC3720".into()),
                // AuthMethod outside the security stage.
                _ => Some("Irrelevant".into()),
            },
            Rule::Declarative => match name {
                "MaxRecvDataSegmentLength" => {
                    let Some(n) = parse_number(value).filter(|n| (512..=16_777_215).contains(n))
                    else {
                        return reject();
                    };
                    self.initiator_mrdsl = n;
                    None
                }
                "IFMarkInt" | "OFMarkInt" => Some("Irrelevant".into()),
                _ => None,
            },
        }
    }

    /// Final consistency rules after the operational stage: FirstBurstLength never
    /// exceeds MaxBurstLength.
    pub fn finish(&mut self, lim: &TargetLimits) {
        self.target_mrdsl = lim.max_recv_data_segment_length;
        if self.first_burst_length > self.max_burst_length {
            self.first_burst_length = self.max_burst_length;
        }
    }

    /// The keys as `(name, value)` text, for reports.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let d = |b: bool| if b { "CRC32C" } else { "None" }.to_string();
        vec![
            ("HeaderDigest", d(self.header_digest)),
            ("DataDigest", d(self.data_digest)),
            ("MaxConnections", self.max_connections.to_string()),
            ("InitialR2T", yes_no(self.initial_r2t)),
            ("ImmediateData", yes_no(self.immediate_data)),
            (
                "MaxRecvDataSegmentLength(initiator)",
                self.initiator_mrdsl.to_string(),
            ),
            (
                "MaxRecvDataSegmentLength(target)",
                self.target_mrdsl.to_string(),
            ),
            ("MaxBurstLength", self.max_burst_length.to_string()),
            ("FirstBurstLength", self.first_burst_length.to_string()),
            ("DefaultTime2Wait", self.default_time2wait.to_string()),
            ("DefaultTime2Retain", self.default_time2retain.to_string()),
            ("MaxOutstandingR2T", self.max_outstanding_r2t.to_string()),
            ("DataPDUInOrder", yes_no(self.data_pdu_in_order)),
            ("DataSequenceInOrder", yes_no(self.data_sequence_in_order)),
            ("ErrorRecoveryLevel", self.error_recovery_level.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(p: &mut SessionParams, k: &str, v: &str) -> Answer {
        p.negotiate(k, v, &TargetLimits::default(), false)
    }

    #[test]
    fn negotiation_rules() {
        let mut p = SessionParams::default();
        assert_eq!(
            neg(&mut p, "MaxBurstLength", "16776192").as_deref(),
            Some("1048576")
        );
        assert_eq!(
            neg(&mut p, "FirstBurstLength", "16776192").as_deref(),
            Some("262144"),
            "a 256 KiB WRITE may come whole with its command"
        );
        assert_eq!(
            neg(&mut p, "FirstBurstLength", "4096").as_deref(),
            Some("4096")
        );
        assert_eq!(neg(&mut p, "InitialR2T", "No").as_deref(), Some("No"));
        assert_eq!(neg(&mut p, "ImmediateData", "Yes").as_deref(), Some("Yes"));
        assert_eq!(
            neg(&mut p, "HeaderDigest", "CRC32C,None").as_deref(),
            Some("CRC32C")
        );
        assert!(p.header_digest);
        assert_eq!(neg(&mut p, "DataDigest", "MD5").as_deref(), Some("Reject"));
        assert_eq!(neg(&mut p, "ErrorRecoveryLevel", "2").as_deref(), Some("0"));
        assert_eq!(neg(&mut p, "DefaultTime2Wait", "0").as_deref(), Some("2"));
        assert_eq!(
            neg(&mut p, "MaxBurstLength", "12").as_deref(),
            Some("Reject")
        );
        assert_eq!(
            neg(&mut p, "X-vendor.key", "1").as_deref(),
            Some("NotUnderstood")
        );
        assert_eq!(neg(&mut p, "IFMarker", "Yes").as_deref(), Some("No"));
        assert_eq!(neg(&mut p, "MaxRecvDataSegmentLength", "65536"), None);
        assert_eq!(p.initiator_mrdsl, 65536);
        assert_eq!(
            neg(&mut p, "MaxRecvDataSegmentLength", "1"),
            Some("Reject".into())
        );
        let mut d = SessionParams::default();
        let a = d.negotiate("InitialR2T", "Yes", &TargetLimits::default(), true);
        assert_eq!(a.as_deref(), Some("Irrelevant"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("512"), Some(512));
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("4294967295"), Some(u32::MAX));
        assert_eq!(parse_number("0xffffffff"), Some(u32::MAX));
        assert_eq!(parse_number("0x100000000"), None);
        assert_eq!(parse_number("0x+1"), None);
    }
}
