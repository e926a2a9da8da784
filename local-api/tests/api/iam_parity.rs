//! Each function's IAM policy in `template.yaml` allows exactly the AWS calls that function was
//! seen making: nothing it calls is missing (in AWS that call would be refused: a 503, or a
//! function that cannot start), nothing it never calls is granted.
//!
//! The calls come from `IAM_RECORDING_DIR`, where every emulator test of the run recorded them
//! (`certificate_recovery::iam_recording`): the local API's requests on DynamoDB Local and
//! moto, each under the function that serves its route, and each function's start-up (the
//! code-hashing secret, `shared/tests/code_hash_secret.rs`); the `delivery-events` function, which
//! no route serves, fed SES's events after a real send (`events.rs`). `scripts/test-all.sh` runs
//! `policies_allow_exactly_the_recorded_calls` after every other test has recorded; the other
//! tests here check the comparison itself and need no recording.

use certificate_recovery::iam_recording::{self, Phase, Record};
use certificate_recovery::lambda::{DELIVERY_EVENTS, Function};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The environment variable that holds the code-hashing secret's ARN.
const SECRET_ARN_VARIABLE: &str = certificate_recovery::code_hash_secret::ARN_VARIABLE;

// ---------------------------------------------------------------------------------------------
// The template, with its short-form intrinsic functions kept (`!Ref X` → {"!Ref": "X"}).

#[derive(Default)]
struct Loader {
    stack: Vec<(Value, Option<String>, Option<String>)>,
    done: Option<Value>,
}

fn tagged(value: Value, tag: Option<String>) -> Value {
    match tag {
        Some(tag) => json!({ tag: value }),
        None => value,
    }
}

impl Loader {
    fn push(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.done = Some(value),
            Some((Value::Array(items), _, _)) => items.push(value),
            Some((Value::Object(map), _, key)) => match key.take() {
                None => *key = Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned)),
                Some(k) => {
                    map.insert(k, value);
                }
            },
            Some(_) => unreachable!("only collections are stacked"),
        }
    }
}

fn tag_name(tag: Option<yaml_rust2::parser::Tag>) -> Option<String> {
    tag.filter(|t| t.handle == "!").map(|t| format!("!{}", t.suffix))
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::SequenceStart(_, tag) => self.stack.push((Value::Array(Vec::new()), tag_name(tag), None)),
            Event::MappingStart(_, tag) => self.stack.push((Value::Object(Map::new()), tag_name(tag), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, tag, _) = self.stack.pop().expect("balanced");
                self.push(tagged(value, tag));
            }
            Event::Scalar(text, _, _, tag) => self.push(tagged(Value::String(text), tag_name(tag))),
            _ => {}
        }
    }
}

fn parse_template(text: &str) -> Value {
    let mut loader = Loader::default();
    Parser::new_from_str(text).load(&mut loader, false).expect("template.yaml is YAML");
    loader.done.expect("a document")
}

fn template() -> Value {
    parse_template(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap())
}

// ---------------------------------------------------------------------------------------------
// What a policy grants, in the words of the recording: an action on `table`, `index/<name>`,
// `identity` (SES) or `secret` (the code-hashing secret).

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    action: String,
    resource: String,
}

fn grant(action: &str, resource: &str) -> Grant {
    Grant { action: action.to_owned(), resource: resource.to_owned() }
}

fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The function resource built from `binary`.
fn function_resource<'a>(template: &'a Value, binary: &str) -> Result<&'a Value, String> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .ok_or_else(|| format!("no resource of template.yaml builds {binary}"))
}

/// The function's environment: the Globals', overridden by its own.
fn environment(template: &Value, function: &Value) -> Map<String, Value> {
    let mut env = template["Globals"]["Function"]["Environment"]["Variables"].as_object().cloned().unwrap_or_default();
    env.extend(function["Properties"]["Environment"]["Variables"].as_object().cloned().unwrap_or_default());
    env
}

/// What one `Resource` of a statement names, for `action`.
fn resource_kind(template: &Value, env: &Map<String, Value>, action: &str, resource: &Value) -> String {
    let tables: Vec<&String> = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .map(|(name, _)| name)
        .collect();
    if action.starts_with("ses:") {
        // Which SES resources the send is checked against is a matter for SES (identity,
        // configuration set); here only the action counts.
        return "identity".to_owned();
    }
    for table in &tables {
        if *resource == json!({ "!GetAtt": format!("{table}.Arn") }) {
            return "table".to_owned();
        }
        if let Some(index) = resource["!Sub"].as_str().and_then(|s| s.strip_prefix(&format!("${{{table}.Arn}}/index/")))
        {
            return format!("index/{index}");
        }
    }
    if env.get(SECRET_ARN_VARIABLE).is_some_and(|arn| arn == resource && resource.get("!Ref").is_some()) {
        return "secret".to_owned();
    }
    format!("not understood here: {resource}")
}

/// Every action × resource the function's `Policies` allow. Anything but plain `Allow`
/// statements (a SAM policy template, a managed policy, a `Deny`) is refused: what this test
/// cannot read, it cannot vouch for.
fn granted(template: &Value, binary: &str) -> Result<BTreeSet<Grant>, String> {
    let function = function_resource(template, binary)?;
    // Other ways to give a function rights are refused too: this test would not see them.
    for other in ["Role", "RolePath", "PermissionsBoundary", "ManagedPolicyArns"] {
        if function["Properties"].get(other).is_some() {
            return Err(format!("{binary}: `{other}` gives rights this test cannot vouch for"));
        }
    }
    let attached = template["Resources"].as_object().into_iter().flatten().find(|(_, r)| {
        matches!(r["Type"].as_str(), Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::Role"))
    });
    if let Some((name, _)) = attached {
        return Err(format!(
            "{name}: an IAM resource beside the functions' own policies, which this test cannot vouch for"
        ));
    }
    let env = environment(template, function);
    let mut grants = BTreeSet::new();
    for policy in one_or_many(&function["Properties"]["Policies"]) {
        let statements = policy
            .get("Statement")
            .ok_or_else(|| format!("{binary}: a policy that is not a statement list: {policy}"))?;
        for statement in one_or_many(statements) {
            if statement["Effect"] != "Allow"
                || statement.get("NotAction").is_some()
                || statement.get("NotResource").is_some()
            {
                return Err(format!("{binary}: a statement this test cannot read: {statement}"));
            }
            for action in one_or_many(&statement["Action"]) {
                let action = action.as_str().ok_or_else(|| format!("{binary}: action {action}"))?;
                for resource in one_or_many(&statement["Resource"]) {
                    grants.insert(grant(action, &resource_kind(template, &env, action, &resource)));
                }
            }
        }
    }
    Ok(grants)
}

/// The calls a function needs: those it was seen making, and every call any test saw made in
/// a store method the function calls (a method's other paths — a retry after a concurrent
/// write, a conflict — are the function's too, whoever walked them).
fn used(records: &[Record], binary: &str) -> BTreeSet<Grant> {
    let own = || records.iter().filter(|r| r.function.as_deref() == Some(binary));
    let methods: BTreeSet<&str> = own().filter_map(|r| r.store_method.as_deref()).collect();
    let through_methods = records.iter().filter(|r| r.store_method.as_deref().is_some_and(|m| methods.contains(m)));
    own().chain(through_methods).map(|r| grant(&r.action, &r.resource)).collect()
}

/// What is wrong with one function's policy: the calls it lacks, the grants it never uses.
fn differences(template: &Value, records: &[Record], binary: &str) -> Result<Vec<String>, String> {
    let granted = granted(template, binary)?;
    let used = used(records, binary);
    let mut problems: Vec<String> = used
        .difference(&granted)
        .map(|g| format!("{binary}: calls {} on {} but its policy does not allow it", g.action, g.resource))
        .collect();
    problems.extend(
        granted
            .difference(&used)
            .map(|g| format!("{binary}: its policy allows {} on {} which it never called", g.action, g.resource)),
    );
    Ok(problems)
}

/// Every Lambda function's binary name: the HTTP ones, and the one no route serves.
fn binaries() -> Vec<&'static str> {
    Function::ALL.iter().map(|f| f.name()).chain([DELIVERY_EVENTS]).collect()
}

/// No function is given the secret itself: no variable holds it, none resolves it.
fn secret_in_environment(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for binary in binaries() {
        let Ok(resource) = function_resource(template, binary) else { continue };
        for (name, value) in environment(template, resource) {
            if name.starts_with("CODE_HASH_SECRET") && name != SECRET_ARN_VARIABLE
                || value.to_string().contains("resolve:secretsmanager")
            {
                problems.push(format!("{binary}: the environment variable {name} holds a secret"));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------

/// The operations each function was seen making, for the test's output.
fn report(records: &[Record]) -> String {
    let mut out = String::from("AWS calls seen, per function (operation → IAM actions [store methods]):\n");
    let mut who: Vec<Option<&str>> = binaries().into_iter().map(Some).collect();
    who.push(None);
    for function in who {
        let own: Vec<&Record> = records.iter().filter(|r| r.function.as_deref() == function).collect();
        let mut operations: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for r in &own {
            let phase = match r.phase {
                Some(Phase::Init) => "at start",
                Some(Phase::Request) => "serving",
                None => "outside",
            };
            let target =
                if r.resource == "table" { r.action.clone() } else { format!("{} on {}", r.action, r.resource) };
            let entry = operations.entry(format!("{phase:>8}  {} {}", r.service, r.operation)).or_default();
            entry.0.insert(target);
            entry.1.extend(r.store_method.clone());
        }
        out.push_str(&format!(
            "  {}\n",
            function.unwrap_or("(no function: set-up, seeding, store contract, test checks)")
        ));
        for (operation, (actions, methods)) in operations {
            let actions = actions.into_iter().collect::<Vec<_>>().join(", ");
            let methods = methods.into_iter().collect::<Vec<_>>().join(", ");
            out.push_str(&format!("    {operation:<40} → {actions}  [{methods}]\n"));
        }
        if let Some(binary) = function {
            let direct: BTreeSet<Grant> = own.iter().map(|r| grant(&r.action, &r.resource)).collect();
            for extra in used(records, binary).difference(&direct) {
                let methods: BTreeSet<&str> = records
                    .iter()
                    .filter(|r| grant(&r.action, &r.resource) == *extra)
                    .filter_map(|r| r.store_method.as_deref())
                    .filter(|m| own.iter().any(|o| o.store_method.as_deref() == Some(*m)))
                    .collect();
                let methods = methods.into_iter().collect::<Vec<_>>().join(", ");
                out.push_str(&format!(
                    "    also, in store methods it calls (walked by other tests): {} on {} [{methods}]\n",
                    extra.action, extra.resource
                ));
            }
        }
    }
    out
}

#[test]
#[ignore = "run by scripts/test-all.sh once every emulator test has recorded its AWS calls"]
fn policies_allow_exactly_the_recorded_calls() {
    let dir = std::env::var(iam_recording::DIR_VARIABLE)
        .expect("IAM_RECORDING_DIR: the directory the emulator tests recorded their AWS calls in");
    let records = iam_recording::read_dir(std::path::Path::new(&dir)).expect("the recordings can be read");
    println!("{}", report(&records));
    let template = template();
    let mut problems = secret_in_environment(&template);
    for name in binaries() {
        for (phase, what) in [(Phase::Request, "serving a request"), (Phase::Init, "starting")] {
            if !records.iter().any(|r| r.function.as_deref() == Some(name) && r.phase == Some(phase)) {
                problems.push(format!("{name}: no AWS call recorded while {what} (did the emulator tests run?)"));
            }
        }
        match differences(&template, &records, name) {
            Ok(found) => problems.extend(found),
            Err(e) => problems.push(e),
        }
    }
    assert!(
        problems.is_empty(),
        "template.yaml's policies do not match the recorded calls:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The comparison itself, on a small template and made-up records.

const SMALL_TEMPLATE: &str = r#"
Parameters:
  CodeHashSecretArn: { Type: String }
Globals:
  Function:
    Environment:
      Variables:
        CODE_HASH_SECRET_ARN: !Ref CodeHashSecretArn
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  LookupFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: lookup } }
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:UpdateItem]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: !Sub "${Table.Arn}/index/gsi1"
            - Effect: Allow
              Action: [secretsmanager:GetSecretValue]
              Resource: !Ref CodeHashSecretArn
            - Effect: Allow
              Action: [ses:SendEmail]
              Resource:
                - !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/example.ca"
                - !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/x"
"#;

fn record(function: Option<&str>, action: &str, resource: &str) -> Record {
    let (service, operation) = action.split_once(':').unwrap();
    Record {
        store_method: None,
        function: function.map(str::to_owned),
        phase: function.map(|_| Phase::Request),
        service: service.to_owned(),
        operation: operation.to_owned(),
        action: action.to_owned(),
        resource: resource.to_owned(),
        source: "test".to_owned(),
    }
}

#[test]
fn the_template_reader_keeps_intrinsic_functions() {
    let template = parse_template(SMALL_TEMPLATE);
    let grants = granted(&template, "lookup").unwrap();
    let expected: BTreeSet<Grant> = [
        grant("dynamodb:GetItem", "table"),
        grant("dynamodb:UpdateItem", "table"),
        grant("dynamodb:Query", "index/gsi1"),
        grant("secretsmanager:GetSecretValue", "secret"),
        grant("ses:SendEmail", "identity"),
    ]
    .into();
    assert_eq!(grants, expected);
}

#[test]
fn a_call_the_policy_lacks_and_a_grant_never_used_both_fail() {
    let template = parse_template(SMALL_TEMPLATE);
    let exact = vec![
        record(Some("lookup"), "dynamodb:GetItem", "table"),
        record(Some("lookup"), "dynamodb:UpdateItem", "table"),
        record(Some("lookup"), "dynamodb:Query", "index/gsi1"),
        record(Some("lookup"), "secretsmanager:GetSecretValue", "secret"),
        record(Some("lookup"), "ses:SendEmail", "identity"),
        // Calls outside any function (set-up) and another function's calls do not count.
        record(None, "dynamodb:CreateTable", "table"),
        record(Some("send-code"), "dynamodb:DeleteItem", "table"),
    ];
    assert_eq!(differences(&template, &exact, "lookup").unwrap(), Vec::<String>::new());

    let mut more = exact.clone();
    more.push(record(Some("lookup"), "dynamodb:Query", "table"));
    more.push(record(Some("lookup"), "dynamodb:ConditionCheckItem", "table"));
    assert_eq!(
        differences(&template, &more, "lookup").unwrap(),
        [
            "lookup: calls dynamodb:ConditionCheckItem on table but its policy does not allow it",
            "lookup: calls dynamodb:Query on table but its policy does not allow it",
        ]
    );

    let fewer: Vec<Record> = exact.into_iter().filter(|r| r.action != "dynamodb:UpdateItem").collect();
    assert_eq!(
        differences(&template, &fewer, "lookup").unwrap(),
        ["lookup: its policy allows dynamodb:UpdateItem on table which it never called"]
    );
}

#[test]
fn a_function_needs_every_call_seen_in_the_store_methods_it_calls() {
    let template = parse_template(SMALL_TEMPLATE);
    let in_method = |function: Option<&str>, action: &str, method: &str| Record {
        store_method: Some(method.to_owned()),
        ..record(function, action, "table")
    };
    let records = vec![
        record(Some("lookup"), "dynamodb:Query", "index/gsi1"),
        record(Some("lookup"), "secretsmanager:GetSecretValue", "secret"),
        record(Some("lookup"), "ses:SendEmail", "identity"),
        in_method(Some("lookup"), "dynamodb:UpdateItem", "record_code_sent"),
        // The store contract walked a retry of the same method: the function needs it too.
        in_method(None, "dynamodb:GetItem", "record_code_sent"),
        // A method the function never calls does not count.
        in_method(None, "dynamodb:DeleteItem", "link"),
    ];
    assert_eq!(differences(&template, &records, "lookup").unwrap(), Vec::<String>::new());
    let without_retry: Vec<Record> = records.iter().filter(|r| r.action != "dynamodb:GetItem").cloned().collect();
    assert_eq!(
        differences(&template, &without_retry, "lookup").unwrap(),
        ["lookup: its policy allows dynamodb:GetItem on table which it never called"]
    );
    assert!(report(&records).contains(
        "also, in store methods it calls (walked by other tests): dynamodb:GetItem on table [record_code_sent]"
    ));
}

#[test]
fn a_secret_grant_on_anything_but_the_secret_of_the_environment_does_not_count() {
    let other = SMALL_TEMPLATE.replace("Resource: !Ref CodeHashSecretArn", "Resource: \"*\"");
    let grants = granted(&parse_template(&other), "lookup").unwrap();
    assert!(grants.contains(&grant("secretsmanager:GetSecretValue", "not understood here: \"*\"")), "{grants:?}");
    let deny = SMALL_TEMPLATE.replacen("Effect: Allow", "Effect: Deny", 1);
    assert!(granted(&parse_template(&deny), "lookup").is_err());
    let sam_template = SMALL_TEMPLATE
        .replace("        - Statement:", "        - DynamoDBCrudPolicy: { TableName: x }\n        - Statement:");
    assert!(granted(&parse_template(&sam_template), "lookup").is_err());
    // Rights given another way than the function's own statements are refused too.
    let managed = SMALL_TEMPLATE.replace(
        "      Policies:",
        "      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess]\n      Policies:",
    );
    assert!(granted(&parse_template(&managed), "lookup").unwrap_err().contains("ManagedPolicyArns"));
}

#[test]
fn no_function_is_given_the_code_hashing_secret_in_its_environment() {
    let problems = secret_in_environment(&template());
    assert!(problems.is_empty(), "{problems:#?}");
    let template = template();
    // Where it is passed (the functions that read the secret: `template.rs`), it is a reference.
    for binary in binaries() {
        let resource = function_resource(&template, binary).unwrap();
        if let Some(arn) = environment(&template, resource).get(SECRET_ARN_VARIABLE) {
            assert!(arn.get("!Ref").is_some(), "{binary}: {SECRET_ARN_VARIABLE} = {arn:?}");
        }
    }
}
