//! What `template.yaml`, `samconfig.toml` and `Cargo.toml` must hold for the first real deployment
//! to work: facts CloudFormation and cfn-lint accept but SAM, API Gateway, SES or CloudWatch
//! would trip on. Each test reads the files as they are committed.

use certificate_recovery::lambda::{DELIVERY_EVENTS, Function};
use std::collections::{BTreeMap, BTreeSet};
use yaml_rust2::{Yaml, YamlLoader};

fn read(file: &str) -> String {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The template. yaml_rust2 drops tags: `!Ref X` reads as `"X"`, `!Sub [..]` as its list.
fn template() -> Yaml {
    YamlLoader::load_from_str(&read("template.yaml")).unwrap().remove(0)
}

/// `samconfig.toml` as section → key → value, for its `[a.b.c]` headers and `key = value`
/// lines (strings, booleans, numbers); comments and blank lines skipped.
fn samconfig() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in read("samconfig.toml").lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            current = header.strip_suffix(']').expect("a section header").to_owned();
            sections.entry(current.clone()).or_default();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not key = value: {line}"));
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        sections.entry(current.clone()).or_default().insert(key.trim().to_owned(), value.to_owned());
    }
    sections
}

fn functions(template: &Yaml) -> Vec<(&str, &Yaml)> {
    template["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

/// The binary names of every Lambda function: the HTTP ones and `delivery-events`.
fn binaries() -> Vec<&'static str> {
    Function::ALL.iter().map(|f| f.name()).chain([DELIVERY_EVENTS]).collect()
}

/// The function resource built from `binary`.
fn function<'a>(template: &'a Yaml, binary: &str) -> (&'a str, &'a Yaml) {
    functions(template)
        .into_iter()
        .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function resource builds {binary}"))
}

/// A function's environment: the Globals', then its own.
fn environment<'a>(template: &'a Yaml, function: &'a Yaml) -> BTreeMap<&'a str, &'a Yaml> {
    let mut env = BTreeMap::new();
    for variables in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        for (k, v) in variables.as_hash().into_iter().flatten() {
            env.insert(k.as_str().unwrap(), v);
        }
    }
    env
}

fn strings(yaml: &Yaml) -> Vec<&str> {
    match yaml {
        Yaml::String(s) => vec![s.as_str()],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// `sam deploy --guided` saves `parameter_overrides` under `[default.deploy.parameters]`, and a
/// command's own section replaces the global line: a later plain `sam build` then built one
/// architecture and the deploy declared the other (every route an exec format error). One
/// line that both commands read, equal to the template's default (what a command given its own
/// `--parameter-overrides` without `Architecture` gets).
#[test]
fn architecture_is_one_setting_that_sam_build_and_sam_deploy_both_read() {
    let config = samconfig();
    for (section, keys) in &config {
        if section != "default.global.parameters" {
            assert!(
                !keys.contains_key("parameter_overrides"),
                "[{section}] has parameter_overrides: it replaces the global line for that command"
            );
        }
    }
    let overrides = config
        .get("default.global.parameters")
        .and_then(|g| g.get("parameter_overrides"))
        .expect("parameter_overrides under [default.global.parameters]");
    let architectures: Vec<&str> =
        overrides.split_whitespace().filter_map(|p| p.strip_prefix("Architecture=")).collect();
    assert_eq!(architectures.len(), 1, "one Architecture= in {overrides:?}");

    let template = template();
    let parameter = &template["Parameters"]["Architecture"];
    assert_eq!(parameter["Default"].as_str(), Some(architectures[0]), "template default vs samconfig.toml");
    assert!(strings(&parameter["AllowedValues"]).contains(&architectures[0]));
    let text = read("template.yaml");
    assert!(text.contains("    Architectures: [!Ref Architecture]\n"), "Globals.Function.Architectures");
    assert_eq!(text.matches("Architectures:").count(), 1, "no function sets its own architecture");
}

/// SAM runs `cargo lambda build --release --bin <function>` at the workspace root, with no
/// `-p`: cargo then selects the default members, and features are unified across them. Without
/// `default-members` that was every member, the local API's `dev-issuer` feature included.
#[test]
fn a_build_at_the_workspace_root_turns_on_no_development_feature() {
    // Cargo's own feature resolution for that selection, and for the whole workspace as a check
    // that the probe sees the feature when it is on.
    let features = |workspace: bool| {
        let mut command = std::process::Command::new(env!("CARGO"));
        command.current_dir(format!("{}/..", env!("CARGO_MANIFEST_DIR"))).args([
            "tree",
            "--offline",
            "-e",
            "features",
            "-i",
            "certificate-recovery",
            "--prefix",
            "none",
        ]);
        if workspace {
            command.arg("--workspace");
        }
        let output = command.output().expect("cargo tree runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(features(true).contains("certificate-recovery feature \"dev-issuer\""), "the probe sees the feature");
    let selected = features(false);
    assert!(!selected.contains("dev-issuer"), "a root build turns on dev-issuer:\n{selected}");

    let manifest = read("Cargo.toml");
    let list = manifest.split("default-members = [").nth(1).expect("default-members in Cargo.toml");
    let members: BTreeSet<&str> = list[..list.find(']').unwrap()]
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    let mut expected: BTreeSet<String> = binaries().iter().map(|f| format!("functions/{f}")).collect();
    expected.insert("shared".to_owned());
    assert_eq!(
        members,
        expected.iter().map(String::as_str).collect(),
        "default-members: the library and the functions"
    );
}

/// A resource kept by a rollback that has a fixed name makes the retry fail on "already
/// exists": those are `RetainExceptOnCreate`. A resource whose deletion CloudFormation cannot
/// carry out (DynamoDB deletion protection) must not be `RetainExceptOnCreate`, or the rollback
/// itself fails; it is kept (`Retain`) and has no fixed name, so it never blocks a retry.
#[test]
fn what_a_failed_first_deploy_leaves_never_blocks_the_retry() {
    const FIXED_NAMES: [&str; 6] = ["LogGroupName", "TableName", "TopicName", "QueueName", "BucketName", "AliasName"];
    let template = template();
    let mut log_groups = 0;
    for (name, resource) in template["Resources"].as_hash().unwrap() {
        let name = name.as_str().unwrap();
        let policy = resource["DeletionPolicy"].as_str();
        let fixed_name = FIXED_NAMES.iter().find(|p| !resource["Properties"][**p].is_badvalue());
        let protected = resource["Properties"]["DeletionProtectionEnabled"].as_bool() == Some(true);
        if policy == Some("Retain") {
            assert!(fixed_name.is_none(), "{name}: kept by a rollback with a fixed {fixed_name:?}");
        }
        if policy == Some("RetainExceptOnCreate") {
            assert!(!protected, "{name}: a rollback cannot delete it (deletion protection)");
        }
        if resource["Type"].as_str() == Some("AWS::Logs::LogGroup") {
            log_groups += 1;
            assert_eq!(policy, Some("RetainExceptOnCreate"), "{name}");
            assert_eq!(resource["UpdateReplacePolicy"].as_str(), Some("Retain"), "{name}: logs kept on replacement");
        }
    }
    assert_eq!(log_groups, binaries().len() + 1, "a log group per function and the access logs");
    for binary in binaries() {
        let (name, resource) = function(&template, binary);
        let group = resource["Properties"]["LoggingConfig"]["LogGroup"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no log group"));
        assert_eq!(template["Resources"][group]["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{name}: {group}");
    }
    let table = &template["Resources"]["RecoveryTable"];
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"].as_bool(), Some(true));
}

fn parameter<'a>(template: &'a Yaml, name: &str) -> &'a Yaml {
    let p = &template["Parameters"][name];
    assert!(!p.is_badvalue(), "no parameter {name}");
    p
}

/// Whether CloudFormation accepts `value` for the parameter: `MinLength`, `MaxLength`,
/// `AllowedPattern` (anchored at both ends, as written), `AllowedValues`.
fn accepts(p: &Yaml, value: &str) -> bool {
    let length = value.chars().count() as i64;
    if p["MinLength"].as_i64().is_some_and(|min| length < min)
        || p["MaxLength"].as_i64().is_some_and(|max| length > max)
    {
        return false;
    }
    if let Some(pattern) = p["AllowedPattern"].as_str() {
        assert!(pattern.starts_with('^') && pattern.ends_with('$'), "unanchored pattern {pattern}");
        if !regex_lite::Regex::new(pattern).unwrap().is_match(value) {
            return false;
        }
    }
    if let Yaml::Array(values) = &p["AllowedValues"] {
        return values.iter().any(|v| v.as_str() == Some(value));
    }
    true
}

/// Values CloudFormation used to accept and API Gateway then refused or never matched: empty
/// issuers or audiences, non-RSA algorithms (the HTTP API JWT authorizer verifies RSA only, so
/// every token would get 401 at the gateway), an origin with a path or a trailing slash.
#[test]
fn parameters_refuse_what_api_gateway_would_refuse() {
    let template = template();
    for issuer in ["CitizenIssuer", "StaffIssuer"] {
        let p = parameter(&template, issuer);
        for good in ["https://auth.example.gouv.qc.ca", "https://login.example.com/tenant/v2.0"] {
            assert!(accepts(p, good), "{issuer} refuses {good}");
        }
        for bad in ["", "https://", "http://auth.example.com", "auth.example.com", "https://auth example.com"] {
            assert!(!accepts(p, bad), "{issuer} accepts {bad:?}");
        }
    }
    for audience in ["CitizenAudience", "StaffAudience"] {
        let p = parameter(&template, audience);
        assert!(accepts(p, "recuperation-client") && accepts(p, "a"), "{audience}");
        assert!(!accepts(p, "") && !accepts(p, " "), "{audience} accepts an empty audience");
    }
    for jwks in ["CitizenJwksUrl", "StaffJwksUrl"] {
        let p = parameter(&template, jwks);
        assert!(accepts(p, "https://auth.example.com/.well-known/jwks.json"), "{jwks}");
        assert!(!accepts(p, "") && !accepts(p, "http://auth.example.com/jwks"), "{jwks}");
    }
    for algorithm in ["CitizenJwtAlgorithm", "StaffJwtAlgorithm"] {
        let p = parameter(&template, algorithm);
        assert_eq!(strings(&p["AllowedValues"]), ["RS256", "RS384", "RS512"], "{algorithm}: RSA only");
        assert!(accepts(p, p["Default"].as_str().unwrap()));
    }
    let origin = parameter(&template, "AllowedOrigin");
    for good in ["https://recuperation.opc.gouv.qc.ca", "https://localhost:8443", "https://a.b"] {
        assert!(accepts(origin, good), "AllowedOrigin refuses {good}");
    }
    for bad in [
        "",
        "https://recuperation.opc.gouv.qc.ca/",
        "https://recuperation.opc.gouv.qc.ca/app",
        "https://recuperation.opc.gouv.qc.ca?x=1",
        "http://recuperation.opc.gouv.qc.ca",
        "https://Recuperation.OPC.gouv.qc.ca",
        "https://user@recuperation.opc.gouv.qc.ca",
        "https://-bad.ca",
        "*",
    ] {
        assert!(!accepts(origin, bad), "AllowedOrigin accepts {bad:?}");
    }
    // The holder's page: HTTPS, as the functions require in AWS; whatever the parameter
    // accepts, the functions accept too (or they would not start).
    let page = parameter(&template, "HolderPageUrl");
    for good in ["https://recuperation.opc.gouv.qc.ca", "https://opc.example/titulaire", "https://a.b:8443/x/"] {
        assert!(accepts(page, good), "HolderPageUrl refuses {good}");
        let settings = certificate_recovery::settings::RuleSettings::from_lookup(|name| {
            (name == "HOLDER_PAGE_URL").then(|| good.to_owned())
        });
        assert!(settings.is_ok(), "the functions refuse HolderPageUrl={good}");
    }
    for bad in
        ["", "http://recuperation.opc.gouv.qc.ca", "https://", "https://a.b/x?y=1", "https://a.b/#x", "https://a b"]
    {
        assert!(!accepts(page, bad), "HolderPageUrl accepts {bad:?}");
    }
    // IAM matches a secret's full ARN, random suffix included: without it (or with a
    // wildcard) every function would be refused the secret and fail to start.
    let secret = parameter(&template, "CodeHashSecretArn");
    let full = "arn:aws:secretsmanager:ca-central-1:123456789012:secret:certificate-recovery/code-hashing-key-AbC123";
    assert!(accepts(secret, full), "CodeHashSecretArn refuses {full}");
    for bad in [
        "arn:aws:secretsmanager:ca-central-1:123456789012:secret:certificate-recovery/code-hashing-key",
        "arn:aws:secretsmanager:ca-central-1:123456789012:secret:certificate-recovery/*",
        "certificate-recovery/code-hashing-key",
    ] {
        assert!(!accepts(secret, bad), "CodeHashSecretArn accepts {bad:?}");
    }
}

/// SES v2 authorizes `SendEmail` on the sender's domain identity, on its address identity when
/// that is verified too, and on the configuration set the mail goes through — the stack's,
/// which every function that sends names (`SES_CONFIGURATION_SET`); the grant holds only for
/// the configured From address.
#[test]
fn ses_permission_covers_what_ses_v2_checks_and_only_from_the_sender() {
    let template = template();
    for (name, function) in functions(&template) {
        let statements: Vec<Yaml> = function["Properties"]["Policies"]
            .as_vec()
            .unwrap()
            .iter()
            .flat_map(|p| p["Statement"].as_vec().cloned().unwrap_or_default())
            .collect();
        let ses: Vec<&Yaml> = statements.iter().filter(|s| format!("{:?}", s["Action"]).contains("ses:")).collect();
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let sends = Function::ALL.iter().any(|f| f.name() == binary && f.sends_email());
        if !sends {
            assert!(ses.is_empty(), "{name} does not send email");
            continue;
        }
        assert_eq!(ses.len(), 1, "{name}: one SES statement");
        let statement = ses[0];
        assert_eq!(strings(&statement["Action"]), ["ses:SendEmail"], "{name}");
        let resources = format!("{:?}", statement["Resource"]);
        for arn in [":identity/${Domain}", ":identity/${SenderAddress}", ":configuration-set/${MailConfigurationSet}"] {
            assert!(resources.contains(arn), "{name}: no {arn} in {resources}");
        }
        let env = environment(&template, function);
        assert_eq!(
            env.get("SES_CONFIGURATION_SET").and_then(|v| v.as_str()),
            Some("MailConfigurationSet"),
            "{name}: its mail goes through the stack's configuration set"
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["ses:FromAddress"].as_str(),
            Some("SenderAddress"),
            "{name}: scoped to the sender address"
        );
    }
    assert_eq!(template["Resources"]["MailConfigurationSet"]["Type"].as_str(), Some("AWS::SES::ConfigurationSet"));
}

/// CloudWatch cannot publish to a topic encrypted under the AWS-managed `alias/aws/sns`: the
/// alarms would tell no one. A customer-managed key whose policy lets CloudWatch use it, and
/// the account administer it.
#[test]
fn the_alarm_topic_key_lets_cloudwatch_publish() {
    let template = template();
    let resources = &template["Resources"];
    let key_name = resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"].as_str().expect("the topic is encrypted");
    assert!(!key_name.starts_with("alias/aws/"), "an AWS-managed key: {key_name}");
    let key = &resources[key_name];
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"), "{key_name} is a key of this template");
    assert_eq!(key["Properties"]["EnableKeyRotation"].as_bool(), Some(true));
    let statements = key["Properties"]["KeyPolicy"]["Statement"].as_vec().unwrap();
    let of = |principal: &str| {
        statements
            .iter()
            .filter(|s| s["Effect"].as_str() == Some("Allow") && format!("{:?}", s["Principal"]).contains(principal))
            .flat_map(|s| strings(&s["Action"]))
            .collect::<BTreeSet<&str>>()
    };
    let cloudwatch = of("cloudwatch.amazonaws.com");
    assert!(cloudwatch.contains("kms:Decrypt") && cloudwatch.contains("kms:GenerateDataKey*"), "{cloudwatch:?}");
    assert!(!cloudwatch.contains("kms:*"), "CloudWatch gets only what publishing needs");
    assert!(of(":root").contains("kms:*"), "the account administers the key");
    let alarms = resources.as_hash().unwrap().values().filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"));
    for alarm in alarms {
        assert_eq!(strings(&alarm["Properties"]["AlarmActions"]), ["AlarmTopic"]);
    }
}

/// The most SDK calls one request makes in sequence: `POST /agent/assistance-requests/{reference}/resolve`
/// with `email_updated` — read the request, read the certificate, the closing transaction,
/// then for each of the two notices SendEmail and the audit PutItem.
const MOST_SEQUENTIAL_SDK_CALLS: u32 = 7;
/// A JWKS fetch (`jwks_fetch.rs`): 3 s to the response head, 3 s for the body.
const JWKS_FETCH_SECONDS: u64 = 6;
/// An HTTP API answers 503 itself when an integration takes longer.
const HTTP_API_INTEGRATION_TIMEOUT_SECONDS: u64 = 30;

/// Every function outlasts its worst case, so it answers (503) rather than being cut off, and
/// ends before the gateway gives up on it.
#[test]
fn function_timeouts_cover_the_worst_case_and_end_before_the_gateway_gives_up() {
    let operation = certificate_recovery::app::sdk_timeouts().operation_timeout().expect("an operation timeout");
    let worst = operation * MOST_SEQUENTIAL_SDK_CALLS + std::time::Duration::from_secs(JWKS_FETCH_SECONDS);
    let template = template();
    let global = template["Globals"]["Function"]["Timeout"].as_i64();
    for (name, function) in functions(&template) {
        let timeout = function["Properties"]["Timeout"].as_i64().or(global).expect("a timeout") as u64;
        assert!(timeout > worst.as_secs(), "{name}: {timeout} s, the worst case is {worst:?}");
        assert!(timeout <= HTTP_API_INTEGRATION_TIMEOUT_SECONDS, "{name}: {timeout} s, over the gateway's limit");
    }
}

/// Every `aws` command in the README and the docs names its region: SES identities, secrets
/// and the stack are per region, and a profile's default region is often another.
#[test]
fn every_aws_command_in_the_docs_names_its_region() {
    let mut files = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(format!("{}/../docs", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(format!("docs/{}", path.file_name().unwrap().to_str().unwrap()));
        }
    }
    let mut commands = 0;
    for file in &files {
        let text = read(file);
        let mut in_code = false;
        let mut command = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            command.push_str(line);
            if line.trim_end().ends_with('\\') {
                continue;
            }
            let whole = std::mem::take(&mut command);
            let words: Vec<&str> = whole.split_whitespace().collect();
            if words.windows(2).any(|w| w[0].trim_start_matches("$(") == "aws" && !w[1].starts_with('-')) {
                commands += 1;
                assert!(whole.contains("--region"), "{file}: an aws command without --region: {whole}");
            }
        }
    }
    assert!(commands >= 3, "the deploy steps name their aws commands ({commands} found)");
}

/// The settings of issue 12 reach the functions that use them: the hold (a rule setting, read by
/// every function) with the library's default, and the holder's page to the functions whose
/// notices carry a "this wasn't me" link.
#[test]
fn the_hold_and_the_holders_page_reach_the_functions_that_use_them() {
    let template = template();
    let hold = parameter(&template, "EmailChangeHoldSeconds");
    let default = certificate_recovery::settings::RuleSettings::default();
    assert_eq!(hold["Default"].as_i64(), Some(default.email_change_hold.as_secs() as i64), "the library's default");
    assert_eq!(hold["MinValue"].as_i64(), Some(0), "0 turns the hold off");
    // The link notice (verify-code, check-invoice) and the email-change notices (agent-desk).
    const NOTICES_WITH_A_LINK: [Function; 3] = [Function::VerifyCode, Function::CheckInvoice, Function::AgentDesk];
    for binary in binaries() {
        let (name, resource) = function(&template, binary);
        let env = environment(&template, resource);
        assert_eq!(
            env.get("EMAIL_CHANGE_HOLD_SECONDS").and_then(|v| v.as_str()),
            Some("EmailChangeHoldSeconds"),
            "{name}"
        );
        let links = NOTICES_WITH_A_LINK.iter().any(|f| f.name() == binary);
        assert_eq!(
            env.get("HOLDER_PAGE_URL").and_then(|v| v.as_str()),
            links.then_some("HolderPageUrl"),
            "{name}: HOLDER_PAGE_URL where notices carry a link"
        );
        let sends = Function::ALL.iter().any(|f| f.name() == binary && f.sends_email());
        // delivery-events reads it too: it records only that configuration set's events.
        assert_eq!(
            env.contains_key("SES_CONFIGURATION_SET"),
            sends || binary == certificate_recovery::lambda::DELIVERY_EVENTS,
            "{name}: SES_CONFIGURATION_SET where mail is sent, and where its events are read"
        );
    }
}

/// The code-hashing secret's ARN reaches exactly the functions whose start reads the secret
/// (`Function::start_plan`); IAM parity holds their grants to the same calls.
#[test]
fn the_secrets_arn_reaches_only_the_functions_that_read_the_secret() {
    use certificate_recovery::code_hash_secret::ARN_VARIABLE;
    let template = template();
    assert!(template["Globals"]["Function"]["Environment"]["Variables"][ARN_VARIABLE].is_badvalue(), "not in Globals");
    for binary in binaries() {
        let (name, resource) = function(&template, binary);
        let reads = Function::ALL.iter().any(|f| f.name() == binary && f.start_plan().reads_secret());
        assert_eq!(
            environment(&template, resource).get(ARN_VARIABLE).and_then(|v| v.as_str()),
            reads.then_some("CodeHashSecretArn"),
            "{name}"
        );
    }
}

/// "This wasn't me" needs no sign-in: its two routes, and only they, have no authorizer, and
/// with nothing in front of them they get a throttle of their own, below the stage's.
#[test]
fn only_the_report_routes_go_without_an_authorizer_and_they_are_throttled_harder() {
    let template = template();
    let default = |name: &str| parameter(&template, name)["Default"].as_i64().unwrap();
    let mut open_routes = BTreeSet::new();
    for (name, resource) in functions(&template) {
        for (_, event) in resource["Properties"]["Events"].as_hash().unwrap() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &event["Properties"];
            let route = format!("{} {}", p["Method"].as_str().unwrap(), p["Path"].as_str().unwrap());
            if p["Auth"]["Authorizer"].as_str() != Some("NONE") {
                assert!(p["RouteSettings"].is_badvalue(), "{name} {route}: the stage's throttle");
                continue;
            }
            open_routes.insert(route.clone());
            let settings = &p["RouteSettings"];
            assert_eq!(settings["ThrottlingRateLimit"].as_str(), Some("ReportThrottlingRateLimit"), "{route}");
            assert_eq!(settings["ThrottlingBurstLimit"].as_str(), Some("ReportThrottlingBurstLimit"), "{route}");
        }
    }
    assert_eq!(open_routes, BTreeSet::from(["GET /report/{token}".to_owned(), "POST /report/{token}".to_owned()]));
    assert!(default("ReportThrottlingRateLimit") < default("ThrottlingRateLimit"));
    assert!(default("ReportThrottlingBurstLimit") < default("ThrottlingBurstLimit"));
    let api = &template["Resources"]["RecoveryApi"]["Properties"];
    assert_eq!(api["Auth"]["DefaultAuthorizer"].as_str(), Some("CitizenAuthorizer"), "every other route signs in");
}

/// SES's events reach the `delivery-events` function: the configuration set's event destination
/// publishes deliveries, bounces and complaints to a topic of the stack that only SES may
/// publish to, for this configuration set and account; the function is subscribed to it and
/// sends nothing.
#[test]
fn ses_events_reach_the_delivery_function_through_a_topic_only_ses_may_publish_to() {
    let template = template();
    let resources = &template["Resources"];
    let destinations: Vec<&Yaml> = resources
        .as_hash()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::SES::ConfigurationSetEventDestination"))
        .collect();
    assert_eq!(destinations.len(), 1);
    let destination = &destinations[0]["Properties"];
    assert_eq!(destination["ConfigurationSetName"].as_str(), Some("MailConfigurationSet"));
    let event_destination = &destination["EventDestination"];
    assert_eq!(event_destination["Enabled"].as_bool(), Some(true));
    let types: BTreeSet<String> =
        strings(&event_destination["MatchingEventTypes"]).iter().map(|t| t.to_lowercase()).collect();
    assert_eq!(types, BTreeSet::from(["bounce".to_owned(), "complaint".to_owned(), "delivery".to_owned()]));
    let topic = event_destination["SnsDestination"]["TopicARN"].as_str().expect("an SNS destination");
    assert_eq!(resources[topic]["Type"].as_str(), Some("AWS::SNS::Topic"));
    assert!(resources[topic]["Properties"]["KmsMasterKeyId"].as_str().is_some_and(|k| !k.starts_with("alias/aws/")));

    let policies: Vec<&Yaml> = resources
        .as_hash()
        .unwrap()
        .values()
        .filter(|r| {
            r["Type"].as_str() == Some("AWS::SNS::TopicPolicy") && strings(&r["Properties"]["Topics"]) == [topic]
        })
        .collect();
    assert_eq!(policies.len(), 1, "one policy on {topic}");
    let statements = policies[0]["Properties"]["PolicyDocument"]["Statement"].as_vec().unwrap();
    for statement in statements {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        assert_eq!(
            format!("{:?}", statement["Principal"]),
            format!("{:?}", {
                let mut h = yaml_rust2::yaml::Hash::new();
                h.insert(Yaml::String("Service".into()), Yaml::String("ses.amazonaws.com".into()));
                Yaml::Hash(h)
            }),
            "only SES publishes"
        );
        assert_eq!(strings(&statement["Action"]), ["sns:Publish"]);
        let condition = &statement["Condition"]["StringEquals"];
        assert_eq!(condition["aws:SourceAccount"].as_str(), Some("AWS::AccountId"));
        assert!(
            format!("{:?}", condition["aws:SourceArn"]).contains(":configuration-set/${MailConfigurationSet}"),
            "this configuration set's events only"
        );
    }
    // SES can use the topic's key only for this configuration set, too.
    let key = &resources[resources[topic]["Properties"]["KmsMasterKeyId"].as_str().unwrap()];
    let ses_key_statements: Vec<&Yaml> = key["Properties"]["KeyPolicy"]["Statement"]
        .as_vec()
        .unwrap()
        .iter()
        .filter(|s| format!("{:?}", s["Principal"]).contains("ses.amazonaws.com"))
        .collect();
    assert_eq!(ses_key_statements.len(), 1);
    assert!(format!("{:?}", ses_key_statements[0]["Condition"]).contains(":configuration-set/${MailConfigurationSet}"));

    let (name, delivery) = function(&template, DELIVERY_EVENTS);
    let events: Vec<&Yaml> = delivery["Properties"]["Events"].as_hash().unwrap().values().collect();
    assert_eq!(events.len(), 1, "{name}: SNS only, no route");
    assert_eq!(events[0]["Type"].as_str(), Some("SNS"));
    assert_eq!(events[0]["Properties"]["Topic"].as_str(), Some(topic));
    assert!(!format!("{:?}", delivery["Properties"]["Policies"]).contains("ses:"), "{name} sends nothing");
}

/// Every function is in the error and throttle alarms (a metric math alarm takes at most 10
/// metrics), and SES's account reputation is watched at the rates where SES reviews an account.
#[test]
fn the_alarms_watch_every_function_and_the_senders_reputation() {
    let template = template();
    let resources = &template["Resources"];
    for (alarm, metric) in [("FunctionErrorsAlarm", "Errors"), ("FunctionThrottlesAlarm", "Throttles")] {
        let metrics = resources[alarm]["Properties"]["Metrics"].as_vec().unwrap();
        let stats: Vec<&Yaml> = metrics.iter().filter(|m| !m["MetricStat"].is_badvalue()).collect();
        assert!(stats.len() <= 10, "{alarm}: {} metrics, CloudWatch takes 10", stats.len());
        let expression = metrics.iter().find_map(|m| m["Expression"].as_str()).unwrap();
        for binary in binaries() {
            let (name, _) = function(&template, binary);
            let stat = stats
                .iter()
                .find(|m| format!("{:?}", m["MetricStat"]["Metric"]["Dimensions"]).contains(&format!("\"{name}\"")))
                .unwrap_or_else(|| panic!("{alarm} does not watch {name}"));
            assert_eq!(stat["MetricStat"]["Metric"]["MetricName"].as_str(), Some(metric));
            let id = stat["Id"].as_str().unwrap();
            assert!(expression.contains(&format!("FILL({id}, 0)")), "{alarm}: {id} ({name}) is not summed");
        }
    }
    for (metric, threshold) in [("Reputation.BounceRate", 0.05), ("Reputation.ComplaintRate", 0.001)] {
        let alarm = resources
            .as_hash()
            .unwrap()
            .values()
            .find(|r| r["Properties"]["MetricName"].as_str() == Some(metric))
            .unwrap_or_else(|| panic!("no alarm on {metric}"));
        let p = &alarm["Properties"];
        assert_eq!(p["Namespace"].as_str(), Some("AWS/SES"));
        assert_eq!(p["Threshold"].as_f64(), Some(threshold), "{metric}");
        assert_eq!(p["ComparisonOperator"].as_str(), Some("GreaterThanThreshold"), "{metric}");
        assert!(p["Dimensions"].is_badvalue(), "{metric}: the account's rate, which SES reviews");
    }
}
