//! SDK clients for the emulators (DynamoDB Local, moto) used by the local API, the registry
//! import and the tests: one place that knows how to reach them. With `IAM_RECORDING_DIR`
//! set, each client records the calls it makes ([`crate::iam_recording`]).

use crate::iam_recording::Recorder;

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
    if let Some(recorder) = Recorder::from_env() {
        builder = builder.interceptor(recorder);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// An SES v2 client, at `endpoint` when given.
pub fn sesv2(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    let mut builder = aws_sdk_sesv2::config::Builder::from(config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if let Some(recorder) = Recorder::from_env() {
        builder = builder.interceptor(recorder);
    }
    aws_sdk_sesv2::Client::from_conf(builder.build())
}

/// A Secrets Manager client, at `endpoint` when given (moto serves it).
pub fn secrets_manager(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_secretsmanager::Client {
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if let Some(recorder) = Recorder::from_env() {
        builder = builder.interceptor(recorder);
    }
    aws_sdk_secretsmanager::Client::from_conf(builder.build())
}

/// The clients a Lambda function builds ([`crate::app::AwsClients`]), on the emulators: SES v2
/// only when it `sends_email` ([`crate::lambda::Function::sends_email`]), Secrets Manager only
/// when its start `plan` reads the code-hashing secret.
pub fn clients(
    config: &aws_config::SdkConfig,
    dynamodb_endpoint: &str,
    moto_endpoint: &str,
    sends_email: bool,
    plan: crate::app::StartPlan,
) -> crate::app::AwsClients {
    crate::app::AwsClients {
        dynamodb: dynamodb(config, Some(dynamodb_endpoint)),
        sesv2: sends_email.then(|| sesv2(config, Some(moto_endpoint))),
        secrets_manager: plan.reads_secret().then(|| secrets_manager(config, Some(moto_endpoint))),
    }
}
