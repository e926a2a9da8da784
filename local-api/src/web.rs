//! The holder's page (`web/`), served at `/` by the local API. In local mode its
//! `config.json` points the page at this server and its development sign-in.

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
        _ => return None,
    })
}

/// Same-origin everything: no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
