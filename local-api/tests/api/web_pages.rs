//! The two pages the local API serves as static files: the holder's page at `/` and the
//! Office's page at `/agent/`, each file with the strict Content-Security-Policy; the Office's
//! page's files never shadow a staff route (`/agent/...`), and every file a page refers to is
//! served.

use crate::common::{Backend, spawn_app};
use certificate_recovery::http::ROUTES;
use certificate_recovery::lambda::Function;
use local_api::web::{CONTENT_SECURITY_POLICY, PATHS, PageConfigs, asset_at};

#[test]
fn no_page_file_is_a_route() {
    for path in PATHS {
        assert!(asset_at(path).is_some(), "{path} is served");
        for (method, _, _) in ROUTES {
            assert_eq!(Function::serving(method, path), None, "{method} {path} is a page's file, not a route");
        }
        assert!(!path.starts_with("/dev/"), "{path}");
    }
}

/// Every `src="…"`, `href="…"` (not `#…`) of a page and every `import … from "…"` of its
/// scripts names a file the local API serves (relative to the page, or absolute).
#[test]
fn every_file_a_page_refers_to_is_served() {
    let mut checked = 0;
    // The holder's page also opens at a "this wasn't me" link: its files load from there too.
    for page in ["/", "/agent/", "/signalement/AAAAAAAAAAAAAAAAAAAAAA"] {
        let mut files = vec![page.to_owned()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = files.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let asset = asset_at(&path).unwrap_or_else(|| panic!("{path} is not served"));
            checked += 1;
            if !asset.content_type.starts_with("text/html") && !asset.content_type.starts_with("text/javascript") {
                continue;
            }
            let text = std::str::from_utf8(asset.body).unwrap();
            let base = &path[..=path.rfind('/').unwrap()];
            for marker in ["src=\"", "href=\"", "from \"", "script.src = \"", "fetch(\""] {
                for rest in text.split(marker).skip(1) {
                    let target = &rest[..rest.find('"').unwrap()];
                    if target.starts_with('#')
                        || target.contains("${")
                        || target.contains("://")
                        || target.starts_with("tel:")
                    {
                        continue;
                    }
                    let file = resolve(base, target);
                    // Under /signalement/ every name is the page itself: a relative path would
                    // fetch the page, not the file.
                    assert!(!file.starts_with("/signalement/"), "{target} of {path} needs an absolute path");
                    files.push(file);
                }
            }
        }
    }
    assert!(checked >= 12, "{checked} files checked");
}

fn resolve(base: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_owned();
    }
    let mut parts: Vec<&str> = base.trim_end_matches('/').split('/').collect();
    for part in target.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn both_pages_are_served_with_the_strict_policy_and_the_staff_routes_stay_routes() {
    let Some(app) = spawn_app(Backend::Memory).await else { return };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in PATHS {
        let response = client.get(app.api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("content-security-policy").as_deref(), Some(CONTENT_SECURITY_POLICY), "{path}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
    }
    let config: serde_json::Value =
        client.get(app.api.url("/agent/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["mode"], "local");

    let bare = client.get(app.api.url("/agent")).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/agent/");

    // The staff routes beside the page answer as before: no token, 401.
    app.request("GET", "/agent/assistance-requests?status=open", None, None).await.assert(401, "unauthorized");
    app.request("GET", "/agent/certificates/AG-100001/audit", None, None).await.assert(401, "unauthorized");
    app.stop().await;
}

/// In `oidc` mode (`--web-config`, `--agent-web-config`) each page gets its configuration and
/// may reach its issuer's origin, and no other; a configuration that is not one is refused.
#[test]
fn oidc_configurations_open_the_policy_to_their_issuers_only() {
    let holder = r#"{"mode":"oidc","api":"","oidc":{"authority":"http://127.0.0.1:4001","client_id":"h"}}"#;
    let agent = r#"{"mode":"oidc","api":"","oidc":{"authority":"http://127.0.0.1:4002/staff","client_id":"a"}}"#;
    let pages = PageConfigs::new(Some(holder.into()), Some(agent.into())).unwrap();
    assert_eq!(pages.config_at("/config.json"), Some(holder));
    assert_eq!(pages.config_at("/agent/config.json"), Some(agent));
    assert_eq!(pages.config_at("/app.js"), None);
    let policy = pages.content_security_policy();
    assert!(policy.contains("connect-src 'self' http://127.0.0.1:4001 http://127.0.0.1:4002;"), "{policy}");
    assert_eq!(policy.replace(" http://127.0.0.1:4001 http://127.0.0.1:4002", ""), CONTENT_SECURITY_POLICY);

    let local = PageConfigs::default();
    assert_eq!(local.config_at("/config.json"), None);
    assert_eq!(local.content_security_policy(), CONTENT_SECURITY_POLICY);

    for bad in ["not json", r#"{"api":""}"#, r#"{"mode":"oidc","oidc":{"authority":"javascript:alert(1)"}}"#] {
        assert!(PageConfigs::new(Some(bad.into()), None).is_err(), "{bad}");
    }
}
