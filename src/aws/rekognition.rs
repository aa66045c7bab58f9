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

/// What `DescribeStreamProcessor` says about the settings the guard checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProcessorFacts {
    pub arn: Option<String>,
    pub s3_bucket: Option<String>,
    pub kms_key_id: Option<String>,
    /// `None`: the answer has no `DataSharingPreference`.
    pub data_sharing_opt_in: Option<bool>,
    pub face_search: bool,
}

pub async fn describe_stream_processor(
    client: &Client,
    name: &str,
) -> Result<StreamProcessorFacts, AwsError> {
    let out = client
        .describe_stream_processor()
        .name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeStreamProcessor", e))?;
    Ok(StreamProcessorFacts {
        arn: out.stream_processor_arn().map(str::to_owned),
        s3_bucket: out
            .output()
            .and_then(|o| o.s3_destination())
            .and_then(|d| d.bucket())
            .map(str::to_owned),
        kms_key_id: out.kms_key_id().map(str::to_owned),
        data_sharing_opt_in: out.data_sharing_preference().map(|p| p.opt_in()),
        face_search: out.settings().and_then(|s| s.face_search()).is_some(),
    })
}
