//! The three route lists cannot drift: `template.yaml`'s HttpApi events, the local API's
//! router (`http::ROUTES`) and `openapi.yaml`'s paths. The template also gives each route to
//! the function the router names, and SES permission only to functions that send email.

use certificate_recovery::http::ROUTES;
use certificate_recovery::lambda::Function;
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

fn load(file: &str) -> Yaml {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn routes_of_router() -> BTreeSet<(String, String, String)> {
    ROUTES.iter().map(|(m, p, f)| (m.to_string(), p.to_string(), f.to_string())).collect()
}

/// (method, path, binary) of every HttpApi event of every function in the template.
fn routes_of_template(template: &Yaml) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_hash().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
        for (_, event) in resource["Properties"]["Events"].as_hash().unwrap() {
            if event["Type"].as_str() == Some("HttpApi") {
                let p = &event["Properties"];
                routes.insert((
                    p["Method"].as_str().unwrap().to_uppercase(),
                    p["Path"].as_str().unwrap().to_owned(),
                    binary.clone(),
                ));
            }
        }
    }
    routes
}

fn routes_of_openapi(openapi: &Yaml) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in openapi["paths"].as_hash().unwrap() {
        for (method, _) in item.as_hash().unwrap() {
            let method = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                routes.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    routes
}

#[test]
fn template_router_and_openapi_list_the_same_routes() {
    let template = load("template.yaml");
    let router = routes_of_router();
    assert_eq!(routes_of_template(&template), router, "template.yaml vs http::ROUTES");
    let without_function: BTreeSet<_> = router.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    assert_eq!(routes_of_openapi(&load("openapi.yaml")), without_function, "openapi.yaml vs http::ROUTES");
}

#[test]
fn every_function_has_a_crate_a_resource_and_only_the_email_permission_it_needs() {
    let template = load("template.yaml");
    let resources = template["Resources"].as_hash().unwrap();
    for function in Function::ALL {
        let crate_dir = format!("{}/../functions/{}", env!("CARGO_MANIFEST_DIR"), function.name());
        assert!(std::path::Path::new(&crate_dir).join("Cargo.toml").exists(), "{crate_dir}");
        let resource = resources
            .values()
            .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(function.name()))
            .unwrap_or_else(|| panic!("no resource builds {}", function.name()));
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
        let policies = format!("{:?}", resource["Properties"]["Policies"]);
        assert_eq!(policies.contains("ses:SendEmail"), function.sends_email(), "{}", function.name());
        assert!(!policies.contains("dynamodb:*") && !policies.contains("\"*\""), "{}", function.name());
    }
    // The function no route serves: SES's events, from SNS; it sends nothing.
    let name = certificate_recovery::lambda::DELIVERY_EVENTS;
    let crate_dir = format!("{}/../functions/{name}", env!("CARGO_MANIFEST_DIR"));
    assert!(std::path::Path::new(&crate_dir).join("Cargo.toml").exists(), "{crate_dir}");
    let resource = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no resource builds {name}"));
    assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
    let policies = format!("{:?}", resource["Properties"]["Policies"]);
    assert!(!policies.contains("ses:") && !policies.contains("dynamodb:*") && !policies.contains("\"*\""), "{name}");
    // Every crate under functions/ is one of these.
    let mut on_disk: Vec<String> = std::fs::read_dir(format!("{}/../functions", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut known: Vec<String> = Function::ALL.iter().map(|f| f.name().to_owned()).chain([name.to_owned()]).collect();
    on_disk.sort();
    known.sort();
    assert_eq!(on_disk, known, "functions/ vs Function::ALL and delivery-events");
}

#[test]
fn openapi_lists_every_problem_code() {
    let openapi = load("openapi.yaml");
    let listed: BTreeSet<String> = openapi["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let codes: BTreeSet<String> =
        certificate_recovery::http::problem::ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(listed, codes);
}
