//! A Lambda function whose routes hash starts by reading the code-hashing secret from Secrets
//! Manager (moto here), through the clients and the IAM recording the other emulator tests
//! use: the current version hashes, the previous one still verifies where the function checks
//! old hashes, the environment never supplies the secret, and a missing or weak secret stops
//! the start with an error that does not show it. A function whose routes hash nothing reads
//! no secret and holds no key (`Function::start_plan`).
//!
//! One test in its own binary: it sets the process environment (the token issuers are read
//! from it) before anything else runs.

use certificate_recovery::App;
use certificate_recovery::app::StartupError;
use certificate_recovery::code_hash_secret::CodeHashKeys;
use certificate_recovery::code_hash_secret::{ARN_VARIABLE, SecretError};
use certificate_recovery::domain::SecurityCode;
use certificate_recovery::iam_recording;
use certificate_recovery::lambda::{DELIVERY_EVENTS, DELIVERY_EVENTS_START_PLAN, Function};
use certificate_recovery::local_aws;
use certificate_recovery::security_code_hash::CodeHasher;
use secrecy::SecretString;
use std::collections::HashMap;

const OLD: &str = "the-secret-before-the-rotation-0123456789";
const NEW: &str = "the-secret-after-the-rotation-9876543210ab";
/// What a function would have found in its environment before: never used.
const FROM_ENVIRONMENT: &str = "a-secret-left-in-the-environment-0123456789";
const WEAK: &str = "short-but-secret";

fn hasher(secret: &str) -> CodeHasher {
    CodeHasher::new(&SecretString::from(secret.to_owned())).unwrap()
}

/// moto's endpoint (it serves Secrets Manager with SES v2).
fn moto() -> Option<String> {
    match std::env::var("SES_ENDPOINT") {
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            assert!(std::env::var("REQUIRE_EMULATORS").is_err(), "REQUIRE_EMULATORS is set but SES_ENDPOINT is not");
            eprintln!("moto run left out: SES_ENDPOINT is not set (plain cargo test)");
            None
        }
    }
}

#[test]
fn each_function_reads_the_versions_of_the_code_hashing_secret_its_routes_use_at_start() {
    let Some(moto) = moto() else { return };
    // The one DynamoDB call at start opens the connection (`app::open_dynamodb`); a failure
    // there (no DynamoDB Local, no table) does not stop the start.
    let dynamodb = std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| moto.clone());
    let jwks = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../dev/jwks.json")).unwrap();
    for prefix in ["CITIZEN", "STAFF"] {
        let vars = [
            ("ISSUER", format!("urn:opc:test:{prefix}")),
            ("AUDIENCE", "certificate-recovery-test".to_owned()),
            ("JWKS", jwks.clone()),
        ];
        for (suffix, value) in vars {
            // SAFETY: the only test of this binary, before it starts any thread or runtime.
            unsafe { std::env::set_var(format!("{prefix}_{suffix}"), value) };
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(starts_with_the_secret(&dynamodb, &moto));
}

async fn starts_with_the_secret(dynamodb: &str, moto: &str) {
    let config = local_aws::sdk_config().await;
    let secrets = local_aws::secrets_manager(&config, Some(moto));
    let tag = certificate_recovery::ids::random_hex(6);
    let create = |name: String, value: &str| {
        let secrets = secrets.clone();
        let value = value.to_owned();
        async move {
            let out = secrets.create_secret().name(name).secret_string(value).send().await.expect("moto creates");
            out.arn.expect("an ARN")
        }
    };
    let put = |arn: String, value: &str| {
        let secrets = secrets.clone();
        let value = value.to_owned();
        async move {
            secrets.put_secret_value().secret_id(arn).secret_string(value).send().await.expect("moto rotates");
        }
    };
    // A rotated secret: AWSCURRENT is NEW, AWSPREVIOUS is OLD.
    let rotated = create(format!("code-hash-rotated-{tag}"), OLD).await;
    put(rotated.clone(), NEW).await;

    let env = |arn: Option<&str>| {
        let mut env: HashMap<String, String> = [
            ("TABLE_NAME", "certificate-recovery-test"),
            ("SENDER_ADDRESS", "no-reply@opc.test"),
            ("CODE_HASH_SECRET", FROM_ENVIRONMENT),
            ("CODE_HASH_SECRET_PREVIOUS", FROM_ENVIRONMENT),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(arn) = arn {
            env.insert(ARN_VARIABLE.to_owned(), arn.to_owned());
        }
        move |name: &str| env.get(name).cloned()
    };
    let start = |function: Function, arn: Option<&str>| {
        let env = env(arn);
        let plan = function.start_plan();
        let clients = local_aws::clients(&config, dynamodb, moto, function.sends_email(), plan);
        iam_recording::starting(function, App::from_lambda_settings(env, clients, plan))
    };

    let code = SecurityCode::parse("482915").unwrap();
    for function in Function::ALL {
        let app = start(function, Some(&rotated)).await.unwrap_or_else(|e| panic!("{}: {e}", function.name()));
        let name = function.name();
        match function.start_plan().code_hash_keys {
            CodeHashKeys::None => {
                assert!(app.hasher.is_none(), "{name}: no key");
                // It needs no ARN either.
                assert!(start(function, None).await.unwrap().hasher.is_none(), "{name}: no ARN needed");
            }
            keys => {
                let hasher_of_app = app.code_hasher().unwrap();
                assert_eq!(hasher_of_app.hash("s", &code), hasher(NEW).hash("s", &code), "{name}: AWSCURRENT hashes");
                assert_eq!(
                    hasher_of_app.verify("s", &code, &hasher(OLD).hash("s", &code)),
                    keys == CodeHashKeys::CurrentAndPrevious,
                    "{name}: AWSPREVIOUS verifies where old hashes are checked, and only there"
                );
                let from_environment = hasher(FROM_ENVIRONMENT).hash("s", &code);
                assert!(!hasher_of_app.verify("s", &code, &from_environment), "{name}: the environment's secret");
            }
        }
        // A function that sends no email has no SES client: its mailer refuses.
        let email = certificate_recovery::mailer::Email {
            to: "someone@opc.test".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
        };
        if !function.sends_email() {
            assert!(app.mailer.send(&email).await.is_err(), "{}: a mailer without SES", function.name());
        }
    }
    // What each function reads, spelled out (`docs/rules.md#secret`).
    let reading = |keys: CodeHashKeys| -> Vec<&str> {
        Function::ALL.into_iter().filter(|f| f.start_plan().code_hash_keys == keys).map(|f| f.name()).collect()
    };
    assert_eq!(reading(CodeHashKeys::None), ["lookup", "assistance", "recovery-state"]);
    assert_eq!(reading(CodeHashKeys::Current), ["send-code", "check-invoice", "agent-desk"]);
    assert_eq!(reading(CodeHashKeys::CurrentAndPrevious), ["verify-code", "report"]);
    // The function no route serves hashes nothing either (`lambda::run_delivery_events`).
    let plan = DELIVERY_EVENTS_START_PLAN;
    let delivery = iam_recording::starting_as(
        DELIVERY_EVENTS,
        App::from_lambda_settings(env(None), local_aws::clients(&config, dynamodb, moto, false, plan), plan),
    )
    .await
    .unwrap_or_else(|e| panic!("{DELIVERY_EVENTS}: {e}"));
    assert!(delivery.hasher.is_none(), "{DELIVERY_EVENTS}: no key");

    // Never rotated: no previous version, and codes hashed with another secret do not verify.
    let single = create(format!("code-hash-single-{tag}"), NEW).await;
    let app = start(Function::VerifyCode, Some(&single)).await.expect("a secret never rotated is fine");
    let single_hasher = app.code_hasher().unwrap();
    assert_eq!(single_hasher.hash("s", &code), hasher(NEW).hash("s", &code));
    assert!(!single_hasher.verify("s", &code, &hasher(OLD).hash("s", &code)));

    // A weak current or previous version, a secret that does not exist, a binary secret, no
    // ARN at all: the start fails, saying why, never showing the secret.
    let weak = create(format!("code-hash-weak-{tag}"), WEAK).await;
    let weak_previous = create(format!("code-hash-weak-previous-{tag}"), WEAK).await;
    put(weak_previous.clone(), NEW).await;
    let missing = rotated.replace("rotated", "missing");
    let binary = secrets
        .create_secret()
        .name(format!("code-hash-binary-{tag}"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(NEW.as_bytes()))
        .send()
        .await
        .expect("moto creates")
        .arn
        .unwrap();
    let failures = [
        (Some(weak.as_str()), "AWSCURRENT) is too weak"),
        (Some(weak_previous.as_str()), "AWSPREVIOUS) is too weak"),
        (Some(missing.as_str()), "cannot be read: ResourceNotFoundException"),
        (Some(binary.as_str()), "holds no text"),
        (None, "setting CODE_HASH_SECRET_ARN is missing"),
    ];
    // Each on a function that reads the version that fails.
    let readers =
        [Function::SendCode, Function::VerifyCode, Function::Report, Function::CheckInvoice, Function::AgentDesk];
    for (function, (arn, expected)) in readers.into_iter().zip(failures) {
        let Err(error) = start(function, arn).await else { panic!("{arn:?}: the function started") };
        let message = error.to_string();
        assert!(message.contains(expected), "{arn:?}: {message}");
        if let Some(arn) = arn {
            assert!(message.contains(arn), "the error names the secret: {message}");
        }
        for secret in [WEAK, NEW, OLD, FROM_ENVIRONMENT] {
            assert!(!message.contains(secret) && !format!("{error:?}").contains(secret), "{message}");
        }
        assert!(matches!(error, StartupError::Secret(_) | StartupError::Missing(_)), "{error:?}");
        if let StartupError::Secret(SecretError::Weak { stage, .. }) = error {
            assert!(expected.starts_with(stage), "{stage}");
        }
    }
}
