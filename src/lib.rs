//! rekognition-guard: keeps the S3 buckets, KMS keys and AI opt-out policy behind
//! Amazon Rekognition protected.
//!
//! Layers, outside in: `main`/`cli` (entry points) → `handler` (orchestration) →
//! `event`, `controls`, `policy`, `opt_out`, `alert`, `report` (pure domain) and
//! `aws` (the only code that talks to AWS).

pub mod alert;
pub mod aws;
pub mod change;
pub mod cli;
pub mod config;
pub mod controls;
pub mod dependents;
pub mod event;
pub mod handler;
pub mod metrics;
pub mod objects;
pub mod ocsf;
pub mod org;
pub mod org_policy;
pub mod policy;
pub mod region;
pub mod report;
pub mod scope;
pub mod sink;
pub mod standards;
pub mod state;
