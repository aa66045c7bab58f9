//! What each control corresponds to in published standards: the Security Hub CSPM
//! controls and CIS AWS Foundations Benchmark items it overlaps, the ASFF finding types,
//! and the AWS documentation page that says how to fix it. Pure data, one table.
//!
//! The report cites these (`standards` on each result), Security Hub findings carry them
//! in `Compliance.RelatedRequirements` — never as `Compliance.SecurityControlId`, so
//! Security Hub's own control pipeline and Automated Security Response do not treat our
//! finding as theirs — and OCSF findings in `compliance.standards`. The book's control
//! table (docs/src/controls.md) is checked against this table (the test below).

use crate::report::Report;

/// One control's place in the standards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlInfo {
    pub id: &'static str,
    /// Short title, "S3 bucket default encryption uses SSE-KMS".
    pub title: &'static str,
    /// Related requirements, as Security Hub spells them (`<standard>/<item>`).
    pub requirements: &'static [&'static str],
    /// ASFF `Types` (namespace/category/classifier taxonomy).
    pub types: &'static [&'static str],
    /// What to do, in one or two sentences (ASFF caps it at 512 characters).
    pub remediation: &'static str,
    pub url: &'static str,
}

const BEST_PRACTICES: &str = "Software and Configuration Checks/AWS Security Best Practices";
const CIS_TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark";
const DATA_EXPOSURE: &str = "Effects/Data Exposure";

pub const CONTROLS: &[ControlInfo] = &[
    ControlInfo {
        id: "sse-kms",
        title: "S3 bucket default encryption uses SSE-KMS",
        requirements: &["AWS Foundational Security Best Practices v1.0.0/S3.17"],
        types: &[BEST_PRACTICES, DATA_EXPOSURE],
        remediation: "Set the bucket's default encryption to SSE-KMS (aws:kms) with a customer managed \
                      key and S3 Bucket Keys enabled.",
        url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html",
    },
    ControlInfo {
        id: "public-access-block",
        title: "S3 bucket blocks public access",
        requirements: &[
            "AWS Foundational Security Best Practices v1.0.0/S3.8",
            "CIS AWS Foundations Benchmark v3.0.0/2.1.4",
            "CIS AWS Foundations Benchmark v1.4.0/2.1.5",
        ],
        types: &[BEST_PRACTICES, CIS_TYPE, DATA_EXPOSURE],
        remediation: "Turn on all four Block Public Access settings for the bucket.",
        url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-block-public-access-bucket.html",
    },
    ControlInfo {
        id: "tls-only",
        title: "S3 bucket policy denies requests without TLS",
        requirements: &[
            "AWS Foundational Security Best Practices v1.0.0/S3.5",
            "CIS AWS Foundations Benchmark v3.0.0/2.1.1",
            "CIS AWS Foundations Benchmark v1.4.0/2.1.2",
        ],
        types: &[BEST_PRACTICES, CIS_TYPE, DATA_EXPOSURE],
        remediation: "Add a bucket policy statement that denies s3:* on the bucket and its objects when \
                      aws:SecureTransport is false.",
        url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html",
    },
    ControlInfo {
        id: "kms-key-spec",
        title: "KMS key is a usable symmetric key with rotation on",
        requirements: &[
            "AWS Foundational Security Best Practices v1.0.0/KMS.3",
            "AWS Foundational Security Best Practices v1.0.0/KMS.4",
            "CIS AWS Foundations Benchmark v3.0.0/3.6",
            "CIS AWS Foundations Benchmark v1.4.0/3.8",
        ],
        types: &[BEST_PRACTICES, CIS_TYPE],
        remediation: "Use an enabled SYMMETRIC_DEFAULT ENCRYPT_DECRYPT customer managed key, cancel any \
                      scheduled deletion and turn on automatic key rotation.",
        url: "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html",
    },
    ControlInfo {
        id: "customer-managed-key",
        title: "Rekognition resource is encrypted with a customer managed key",
        requirements: &[],
        types: &[BEST_PRACTICES],
        remediation: "Create the project version or stream processor with KmsKeyId naming a customer \
                      managed symmetric KMS key.",
        url: "https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/cl-encryption.html",
    },
    ControlInfo {
        id: "data-sharing",
        title: "Rekognition stream processor does not share data",
        requirements: &[],
        types: &[BEST_PRACTICES, DATA_EXPOSURE],
        remediation: "Update the stream processor with DataSharingPreference OptIn set to false.",
        url: "https://docs.aws.amazon.com/rekognition/latest/dg/streaming-video-data-sharing.html",
    },
    ControlInfo {
        id: "ai-opt-out",
        title: "AI services opt-out policy covers Rekognition",
        requirements: &[],
        types: &[BEST_PRACTICES, DATA_EXPOSURE],
        remediation: "Attach an AI services opt-out policy (AISERVICES_OPT_OUT_POLICY) that opts the \
                      account out for rekognition.",
        url: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_ai-opt-out.html",
    },
];

/// The entry for a control id, `None` for pseudo-controls such as `scan`.
pub fn info(control: &str) -> Option<&'static ControlInfo> {
    CONTROLS.iter().find(|c| c.id == control)
}

/// Fills in every result's `standards`.
pub fn cite_all(report: &mut Report) {
    for resource in &mut report.resources {
        for control in &mut resource.controls {
            control.standards = info(&control.control)
                .map(|i| i.requirements.iter().map(|r| (*r).to_owned()).collect())
                .unwrap_or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_module_has_an_entry() {
        use crate::controls::*;
        for id in [
            sse_kms::ID,
            public_access_block::ID,
            tls_only::ID,
            kms_key_spec::ID,
            customer_managed_key::ID,
            data_sharing::ID,
            crate::org_policy::opt_out::report::CONTROL_ID,
        ] {
            let entry = info(id).unwrap_or_else(|| panic!("{id} has no standards entry"));
            assert!(!entry.types.is_empty() && entry.remediation.len() <= 512);
            assert!(entry.url.starts_with("https://docs.aws.amazon.com/"));
        }
        assert_eq!(info("scan"), None);
    }

    #[test]
    fn the_book_control_table_cites_the_same_standards() {
        let readme = include_str!("../docs/src/controls.md");
        for c in CONTROLS {
            let row = readme
                .lines()
                .find(|l| {
                    l.starts_with(&format!("| `{}` |", c.id))
                        && (l.contains("Benchmark")
                            || l.contains("Practices")
                            || l.contains("none published"))
                })
                .unwrap_or_else(|| {
                    panic!("docs/src/controls.md has no standards row for {}", c.id)
                });
            let cited: Vec<&str> = row
                .split('|')
                .nth(2)
                .unwrap()
                .split(',')
                .map(str::trim)
                .filter(|r| r.contains('/'))
                .collect();
            assert_eq!(
                cited, c.requirements,
                "docs/src/controls.md row for {}",
                c.id
            );
        }
    }

    #[test]
    fn the_security_hub_controls_named_in_the_issue_are_cited() {
        let cited = |id: &str, item: &str| {
            info(id)
                .unwrap()
                .requirements
                .iter()
                .any(|r| r.ends_with(item))
        };
        assert!(cited("tls-only", "/S3.5"));
        assert!(cited("public-access-block", "/S3.8"));
        assert!(cited("sse-kms", "/S3.17"));
        assert!(cited("kms-key-spec", "/KMS.3") && cited("kms-key-spec", "/KMS.4"));
        // No Security Hub control id is claimed anywhere else than as a related requirement.
        for c in CONTROLS {
            for r in c.requirements {
                assert!(r.contains('/'), "{r}");
            }
        }
    }
}
