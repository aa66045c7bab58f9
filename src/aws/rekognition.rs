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
