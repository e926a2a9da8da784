//! SDK clients for the emulators (DynamoDB Local, moto) used by the local API, the registry
//! import and the tests: one place that knows how to reach them.

/// SDK settings outside Lambda: the SDK's timeouts, `AWS_REGION` or ca-central-1, and — unless
/// `AWS_ACCESS_KEY_ID` is set — fixed credentials (emulators accept any; never reach for an
/// instance profile from a laptop).
pub async fn sdk_config() -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "ca-central-1".to_owned());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(crate::app::sdk_timeouts())
        .region(aws_config::Region::new(region));
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"));
    }
    loader.load().await
}

/// A DynamoDB client, at `endpoint` when given.
pub fn dynamodb(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// An SES v2 client, at `endpoint` when given.
pub fn sesv2(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    let mut builder = aws_sdk_sesv2::config::Builder::from(config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_sesv2::Client::from_conf(builder.build())
}
