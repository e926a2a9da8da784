//! The holder's page (`web/`), served at `/`, and the Office's page (`web/agent/`), served at
//! `/agent/`, by the local API. In local mode each `config.json` points its page at this
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

/// The page's files, built into the binary.
pub fn asset_at(path: &str) -> Option<Asset> {
    Some(match path {
        "/" | "/index.html" => asset("text/html; charset=utf-8", include_bytes!("../../web/index.html")),
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

/// Every path [`asset_at`] serves.
pub const PATHS: [&str; 13] = [
    "/",
    "/index.html",
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
