//! The holder's page (`web/`), served at `/` (and at `/signalement/<token>`, the "this wasn't
//! me" link of the emails), and the Office's page (`web/agent/`), served at `/agent/`, by the
//! local API. Both load `/common.js`. In local mode each `config.json` points its page at this
//! server and its development sign-in. The Office's page's files sit beside the staff routes
//! (`/agent/assistance-requests…`, `/agent/certificates/…`) under names no route uses: a test
//! (`local-api/tests/api/web_pages.rs`) holds every path here apart from the router's.

pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const fn asset(content_type: &'static str, body: &'static [u8]) -> Asset {
    Asset { content_type, body }
}

/// Where the emails' "this wasn't me" links lead: the holder's page, which reads the token from
/// its address (`/signalement/<token>`) and loads its files by absolute paths.
pub const REPORT_PAGE_PREFIX: &str = "/signalement/";

/// Whether `path` is `/signalement/<one segment>`.
fn is_report_page(path: &str) -> bool {
    path.strip_prefix(REPORT_PAGE_PREFIX).is_some_and(|token| !token.is_empty() && !token.contains('/'))
}

/// The page's files, built into the binary.
pub fn asset_at(path: &str) -> Option<Asset> {
    if is_report_page(path) {
        return asset_at("/");
    }
    Some(match path {
        "/" | "/index.html" => asset("text/html; charset=utf-8", include_bytes!("../../web/index.html")),
        "/common.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../web/common.js")),
        "/app.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../web/app.js")),
        "/i18n.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../web/i18n.js")),
        "/style.css" => asset("text/css; charset=utf-8", include_bytes!("../../web/style.css")),
        "/vendor/oidc-client-ts.min.js" => {
            asset("text/javascript; charset=utf-8", include_bytes!("../../web/vendor/oidc-client-ts.min.js"))
        }
        "/config.json" => asset("application/json", br#"{"mode":"local","api":""}"#),
        "/agent/" | "/agent/index.html" => {
            asset("text/html; charset=utf-8", include_bytes!("../../web/agent/index.html"))
        }
        "/agent/agent.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../web/agent/agent.js")),
        "/agent/i18n.js" => asset("text/javascript; charset=utf-8", include_bytes!("../../web/agent/i18n.js")),
        "/agent/agent.css" => asset("text/css; charset=utf-8", include_bytes!("../../web/agent/agent.css")),
        "/agent/config.json" => asset("application/json", br#"{"mode":"local","api":""}"#),
        _ => return None,
    })
}

/// Every path [`asset_at`] serves (of `/signalement/<token>`, one token).
pub const PATHS: [&str; 15] = [
    "/",
    "/index.html",
    "/signalement/AAAAAAAAAAAAAAAAAAAAAA",
    "/common.js",
    "/app.js",
    "/i18n.js",
    "/style.css",
    "/vendor/oidc-client-ts.min.js",
    "/config.json",
    "/agent/",
    "/agent/index.html",
    "/agent/agent.js",
    "/agent/i18n.js",
    "/agent/agent.css",
    "/agent/config.json",
];

/// Same-origin everything: no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The pages' `config.json`s when they are not in local mode (`--web-config`,
/// `--agent-web-config`): `oidc` mode against issuers on this machine. The policy then lets the
/// pages reach each configured `oidc.authority` (discovery, token endpoint), and nothing else.
#[derive(Debug, Clone, Default)]
pub struct PageConfigs {
    holder: Option<String>,
    agent: Option<String>,
    connect: Vec<String>,
}

impl PageConfigs {
    /// Each a JSON object with a `mode`; an `oidc.authority` must be an absolute http(s) URL.
    pub fn new(holder: Option<String>, agent: Option<String>) -> Result<Self, String> {
        let mut connect = Vec::new();
        for (name, config) in [("--web-config", &holder), ("--agent-web-config", &agent)] {
            let Some(config) = config else { continue };
            let value: serde_json::Value =
                serde_json::from_str(config).map_err(|e| format!("{name}: not JSON ({e})"))?;
            if !value["mode"].is_string() {
                return Err(format!("{name}: no \"mode\""));
            }
            if let Some(authority) = value["oidc"]["authority"].as_str() {
                let uri: http::Uri = authority.parse().map_err(|_| format!("{name}: oidc.authority is not a URL"))?;
                let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.authority()) else {
                    return Err(format!("{name}: oidc.authority is not an absolute URL"));
                };
                if !["http", "https"].contains(&scheme) {
                    return Err(format!("{name}: oidc.authority is not http(s)"));
                }
                let origin = format!("{scheme}://{host}");
                if !connect.contains(&origin) {
                    connect.push(origin);
                }
            }
        }
        Ok(Self { holder, agent, connect })
    }

    /// The configuration served at `path` instead of the local one, if any.
    pub fn config_at(&self, path: &str) -> Option<&str> {
        match path {
            "/config.json" => self.holder.as_deref(),
            "/agent/config.json" => self.agent.as_deref(),
            _ => None,
        }
    }

    /// [`CONTENT_SECURITY_POLICY`], with the configured issuers' origins in `connect-src`.
    pub fn content_security_policy(&self) -> String {
        if self.connect.is_empty() {
            return CONTENT_SECURITY_POLICY.to_owned();
        }
        CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {}", self.connect.join(" ")))
    }
}
