//! Rekognition adapter: the output buckets of existing Custom Labels project versions,
//! so a sweep also covers buckets that no `CreateBucket` event announced.

use super::AwsError;
use aws_sdk_rekognition::Client;

/// Every distinct `OutputConfig.S3Bucket` of every project version in the region.
pub async fn project_output_buckets(client: &Client) -> Result<Vec<String>, AwsError> {
    let mut buckets: Vec<String> = Vec::new();
    let mut projects = client.describe_projects().into_paginator().send();
    while let Some(page) = projects.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeProjects", e))?;
        for project in page.project_descriptions() {
            let Some(arn) = project.project_arn() else {
                continue;
            };
            let mut versions = client
                .describe_project_versions()
                .project_arn(arn)
                .into_paginator()
                .send();
            while let Some(page) = versions.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeProjectVersions", e))?;
                for version in page.project_version_descriptions() {
                    if let Some(bucket) = version.output_config().and_then(|o| o.s3_bucket())
                        && !buckets.iter().any(|b| b == bucket)
                    {
                        buckets.push(bucket.to_owned());
                    }
                }
            }
        }
    }
    Ok(buckets)
}

/// What a Rekognition read call says about the settings the guard checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceFacts {
    /// The call that said it (`DescribeStreamProcessor`, …), for the report.
    pub call: &'static str,
    pub output_bucket: Option<String>,
    pub input_bucket: Option<String>,
    pub kms_key_id: Option<String>,
    /// `None`: the answer has no `DataSharingPreference` (or the resource has none).
    pub data_sharing_opt_in: Option<bool>,
    pub face_search: bool,
}

pub async fn describe_stream_processor(
    client: &Client,
    name: &str,
) -> Result<ResourceFacts, AwsError> {
    let out = client
        .describe_stream_processor()
        .name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeStreamProcessor", e))?;
    Ok(ResourceFacts {
        call: "DescribeStreamProcessor",
        output_bucket: out
            .output()
            .and_then(|o| o.s3_destination())
            .and_then(|d| d.bucket())
            .map(str::to_owned),
        input_bucket: None,
        kms_key_id: out.kms_key_id().map(str::to_owned),
        data_sharing_opt_in: out.data_sharing_preference().map(|p| p.opt_in()),
        face_search: out.settings().and_then(|s| s.face_search()).is_some(),
    })
}

/// One version of a project (`DescribeProjectVersions` with its name).
pub async fn describe_project_version(
    client: &Client,
    project_arn: &str,
    version_name: &str,
) -> Result<ResourceFacts, AwsError> {
    let out = client
        .describe_project_versions()
        .project_arn(project_arn)
        .version_names(version_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeProjectVersions", e))?;
    let version = out.project_version_descriptions().first().ok_or_else(|| {
        AwsError::new(
            "DescribeProjectVersions",
            format!("no version {version_name} in {project_arn}"),
        )
    })?;
    Ok(ResourceFacts {
        call: "DescribeProjectVersions",
        output_bucket: version
            .output_config()
            .and_then(|o| o.s3_bucket())
            .map(str::to_owned),
        kms_key_id: version.kms_key_id().map(str::to_owned),
        ..ResourceFacts::default()
    })
}

pub async fn get_media_analysis_job(
    client: &Client,
    job_id: &str,
) -> Result<ResourceFacts, AwsError> {
    let out = client
        .get_media_analysis_job()
        .job_id(job_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetMediaAnalysisJob", e))?;
    Ok(ResourceFacts {
        call: "GetMediaAnalysisJob",
        output_bucket: out.output_config().map(|o| o.s3_bucket().to_owned()),
        input_bucket: out
            .input()
            .and_then(|i| i.s3_object())
            .and_then(|o| o.bucket())
            .map(str::to_owned),
        kms_key_id: out.kms_key_id().map(str::to_owned),
        ..ResourceFacts::default()
    })
}

/// The Custom Labels project versions (ARNs) in the region that name the key as their
/// `KmsKeyId`, by key ARN or key id (drift: what depends on a changed key).
pub async fn project_versions_using_key(
    client: &Client,
    key_arn: &str,
    key_id: &str,
) -> Result<Vec<String>, AwsError> {
    let mut found: Vec<String> = Vec::new();
    let mut projects = client.describe_projects().into_paginator().send();
    while let Some(page) = projects.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeProjects", e))?;
        for arn in page
            .project_descriptions()
            .iter()
            .filter_map(|p| p.project_arn())
        {
            let mut versions = client
                .describe_project_versions()
                .project_arn(arn)
                .into_paginator()
                .send();
            while let Some(page) = versions.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeProjectVersions", e))?;
                for version in page.project_version_descriptions() {
                    let uses = version.kms_key_id().is_some_and(|k| {
                        k == key_arn || k == key_id || k.ends_with(&format!("/{key_id}"))
                    });
                    if let (true, Some(id)) = (uses, version.project_version_arn()) {
                        found.push(id.to_owned());
                    }
                }
            }
        }
    }
    Ok(found)
}
